"""Reads of settlement for the coalition's operators: the open period (when it is
due, what it holds so far), the closed periods with their totals and payment
state, one period's statements per partner (and charity), its bilateral
obligations and netted transfers, and one statement with its lines.

Money is integer minor units per currency: a period can settle in several, so
every total is per currency, never summed across them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from coalition.ledger.selectors import journal_head
from coalition.settlement.errors import PeriodUnknown, SettlementError
from coalition.settlement.models import (
    BilateralObligation,
    LineKind,
    NettedTransfer,
    PaymentStatus,
    PeriodStatus,
    SettlementPeriod,
    Statement,
    StatementLine,
)
from coalition.settlement.periods import period_due_at, period_open
from coalition.settlement.statements import add_fixed_fees, compute_statements, fixed_fees_due

PERIODS_ON_PAGE = 12
FEE_KINDS = (LineKind.FEE_PERCENT, LineKind.FEE_FIXED)
# A statement whose payout is over (paid, or nothing to pay); and one Stripe refused
# or the partner did not pay: what an operator has to look at.
SETTLED = frozenset({PaymentStatus.PAID, PaymentStatus.NOTHING_DUE})
TROUBLED = frozenset({PaymentStatus.FAILED, PaymentStatus.PAYOUT_ERROR, PaymentStatus.REVERSED})


@dataclass
class CurrencyTotals:
    """A period's money in one currency: what partners owe the coalition (positive
    nets), what the coalition owes partners and charities (negative nets, as a
    positive figure) and what the coalition keeps."""

    currency: str
    owed_by_partners: int = 0
    owed_to_partners: int = 0
    margin: int = 0

    @property
    def net(self) -> int:
        return self.owed_by_partners - self.owed_to_partners


@dataclass(frozen=True)
class PaymentState:
    """How far a closed period's payouts have got: statements settled, waiting
    (pending, invoiced, transfer sent) and in trouble (failed, refused, reversed)."""

    settled: int
    waiting: int
    troubled: int

    @property
    def key(self) -> str:
        if self.troubled:
            return "troubled"
        if self.waiting:
            return "waiting"
        return "settled"


@dataclass(frozen=True)
class OpenPeriod:
    period: SettlementPeriod
    due_at: datetime
    due: bool
    head: int  # the journal's last transaction now: the period holds (start, head] so far
    totals: list[CurrencyTotals]
    partners: int  # partners with a statement so far
    # Why the figures so far cannot be computed (a partner without terms, say);
    # the close would be refused for the same reason.
    problem: str = ""

    @property
    def transactions(self) -> int:
        return max(self.head - self.period.start_watermark, 0)


def open_period_overview(*, now: datetime) -> OpenPeriod:
    """The open period and what it would hold if it closed now (a view, not
    locked: the close takes its own watermark)."""
    period = period_open()
    due_at = period_due_at(period)
    head = max(journal_head(), period.start_watermark)
    totals: dict[str, CurrencyTotals] = {}
    partners, problem = 0, ""
    if period.end_watermark is None:
        try:
            drafts, margin = compute_statements(period.start_watermark, head)
            add_fixed_fees(drafts, margin, fixed_fees_due(until=max(now, due_at)))
        except SettlementError as error:
            problem = error.message
        else:
            for draft in drafts.values():
                line = totals.setdefault(draft.currency, CurrencyTotals(draft.currency))
                _add_net(line, draft.net)
            for currency, amount in margin.items():
                totals.setdefault(currency, CurrencyTotals(currency)).margin = amount
            partners = sum(1 for draft in drafts.values() if draft.lines)
    return OpenPeriod(
        period, due_at, now >= due_at, head, sorted(totals.values(), key=_by_currency),
        partners, problem,
    )  # fmt: skip


def _add_net(totals: CurrencyTotals, net: int) -> None:
    if net > 0:
        totals.owed_by_partners += net
    else:
        totals.owed_to_partners -= net


def _by_currency(totals: CurrencyTotals) -> str:
    return totals.currency


@dataclass
class ClosedPeriod:
    period: SettlementPeriod
    statements: int = 0
    totals: list[CurrencyTotals] = field(default_factory=list)
    payment: PaymentState = PaymentState(0, 0, 0)


def closed_periods(
    *, before: int | None = None, limit: int | None = PERIODS_ON_PAGE
) -> list[ClosedPeriod]:
    """Closed periods newest first (``limit`` of them with a number below
    ``before``, keyset), each with its statement count, totals per currency and
    payment state: two queries whatever the page size."""
    rows = SettlementPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-number")
    if before is not None:
        rows = rows.filter(number__lt=before)
    periods = list(rows[:limit] if limit is not None else rows)
    found = {period.pk: ClosedPeriod(period) for period in periods}
    totals: dict[int, dict[str, CurrencyTotals]] = defaultdict(dict)
    states: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    grouped = (
        Statement.objects.filter(period_id__in=list(found))
        .values("period_id", "currency", "payment_status")
        .annotate(
            count=Count("id"),
            owed_by=Coalesce(Sum("net_amount", filter=Q(net_amount__gt=0)), 0),
            owed_to=Coalesce(Sum("net_amount", filter=Q(net_amount__lt=0)), 0),
        )
        .order_by()
    )
    for row in grouped:
        line = totals[row["period_id"]].setdefault(row["currency"], CurrencyTotals(row["currency"]))
        line.owed_by_partners += row["owed_by"]
        line.owed_to_partners -= row["owed_to"]
        found[row["period_id"]].statements += row["count"]
        state = states[row["period_id"]]
        status = row["payment_status"]
        state[0 if status in SETTLED else 2 if status in TROUBLED else 1] += row["count"]
    for period_id, closed in found.items():
        by_currency = totals[period_id]
        for currency, amount in (closed.period.coalition_margin or {}).items():
            by_currency.setdefault(currency, CurrencyTotals(currency)).margin = int(amount)
        closed.totals = sorted(by_currency.values(), key=_by_currency)
        closed.payment = PaymentState(*states[period_id])
    return [found[period.pk] for period in periods]


def period_by_number(number: int) -> SettlementPeriod | None:
    return SettlementPeriod.objects.filter(number=number).first()


@dataclass(frozen=True)
class StatementRow:
    statement: Statement
    recipient: str
    is_charity: bool
    fees: int  # the fee lines (percentage and fixed): what the coalition charges

    @property
    def gross(self) -> int:
        """The statement before fees: issuance, reimbursements, breakage shares."""
        return self.statement.net_amount - self.fees


def period_statements(period: SettlementPeriod) -> list[StatementRow]:
    """The period's statements, partners then charities by name, each with its
    fees summed from its lines (one query)."""
    rows = (
        Statement.objects.filter(period=period)
        .select_related("partner", "charity")
        .annotate(fees=Coalesce(Sum("lines__amount", filter=Q(lines__kind__in=FEE_KINDS)), 0))
    )
    described = [
        StatementRow(
            row,
            row.partner.name if row.partner else (row.charity.name if row.charity else ""),
            row.partner_id is None,
            int(row.fees),
        )
        for row in rows
    ]
    return sorted(
        described, key=lambda row: (row.is_charity, row.recipient.lower(), row.statement.pk)
    )


def period_obligations(period: SettlementPeriod) -> QuerySet[BilateralObligation]:
    """Who owed whom before netting: issuer to redeemer, largest first."""
    return (
        BilateralObligation.objects.filter(period=period)
        .select_related("debtor", "creditor")
        .order_by("currency", "-amount", "pk")
    )


def period_netted_transfers(period: SettlementPeriod) -> QuerySet[NettedTransfer]:
    """The fewest payments that settle the obligations, largest first."""
    return (
        NettedTransfer.objects.filter(period=period)
        .select_related("payer", "payee")
        .order_by("currency", "-amount", "pk")
    )


@dataclass(frozen=True)
class PeriodNetting:
    period: SettlementPeriod
    obligations: list[BilateralObligation]
    transfers: list[NettedTransfer]


def period_netting(number: int) -> PeriodNetting:
    """A period's bilateral obligations and netted transfers, with the partners
    they name (three queries whatever their number); an open period has none yet.
    ``PeriodUnknown`` if no period has that number."""
    period = period_by_number(number)
    if period is None:
        raise PeriodUnknown(f"there is no settlement period {number}")
    return PeriodNetting(
        period, list(period_obligations(period)), list(period_netted_transfers(period))
    )


def period_statement(*, period_number: int, statement_id: int) -> Statement | None:
    """One statement of a closed period, with its period, partner and charity;
    None if the statement is not in that period."""
    return (
        Statement.objects.filter(
            pk=statement_id, period__number=period_number, period__status=PeriodStatus.CLOSED
        )
        .select_related("period", "partner", "charity")
        .first()
    )


def statement_lines_of(statement: Statement) -> list[StatementLine]:
    return list(statement.lines.order_by("id"))
