"""The settlement operations in one import, for callers that use several of them
(the API, the demo seed, tests): ``from coalition.settlement import services``.

Each lives in the module of its sub-domain: ``terms`` (prices and fees, the terms
in force), ``statements`` (valuing a period's events per partner), ``netting``
(bilateral obligations and the fewest payments), ``periods`` (the calendar and
closing), ``reports`` (live position, liability) and ``stripe`` (``gateway``:
paying statements and reconciling; ``events``: Stripe's webhooks).
"""

from __future__ import annotations

from coalition.settlement.errors import (
    CloseReasonMissing,
    InvalidTerms,
    MixedCurrencies,
    PeriodNotDue,
    SettlementError,
    TermsMissing,
)
from coalition.settlement.netting import Obligation, bilateral_obligations, net_obligations
from coalition.settlement.periods import (
    period_close,
    period_due_at,
    period_open,
    periods_close_due,
)
from coalition.settlement.reports import (
    LiabilityLine,
    LiabilityReport,
    issuer_liability,
    liability_report,
    live_position,
)
from coalition.settlement.statements import (
    DraftLine,
    DraftStatement,
    compute_statements,
    fixed_fees_due,
    statement_transactions,
)
from coalition.settlement.terms import money, terms_in_force, terms_set

__all__ = [
    "CloseReasonMissing",
    "DraftLine",
    "DraftStatement",
    "InvalidTerms",
    "LiabilityLine",
    "LiabilityReport",
    "MixedCurrencies",
    "Obligation",
    "PeriodNotDue",
    "SettlementError",
    "TermsMissing",
    "bilateral_obligations",
    "compute_statements",
    "fixed_fees_due",
    "issuer_liability",
    "liability_report",
    "live_position",
    "money",
    "net_obligations",
    "period_close",
    "period_due_at",
    "period_open",
    "periods_close_due",
    "statement_transactions",
    "terms_in_force",
    "terms_set",
]
