"""Proposed settlement terms: checking a new version before it is set, and what
the last closed period would have cost its partner under it.

The preview values the period's events with the statement computation itself
(``statements.compute_statements`` with ``valued_at``), as if the proposed terms
had been in force for the whole period, so the preview and a real close under
those terms agree to the cent. The fixed fee is billed for the calendar months
that period billed (to this partner or, if it paid none, to any partner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Unpack

from django.utils import timezone

from coalition.settlement.errors import InvalidTerms, TermsBeforeInForce, TermsEffectiveInPast
from coalition.settlement.models import (
    FixedFeeCharge,
    LineKind,
    PeriodStatus,
    SettlementPeriod,
    SettlementTerms,
    Statement,
)
from coalition.settlement.statements import (
    DraftStatement,
    FixedFeeDue,
    add_fixed_fees,
    compute_statements,
)
from coalition.settlement.terms import TermsValues, terms_in_force, terms_values_check
from loyalty_kernel import clock
from loyalty_kernel.money import is_known_currency
from tenants.partners.models import Partner

# "Now" is fixed when the operator asks for the preview; confirming it later than
# this is refused (the preview was of another moment).
PREVIEW_VALID_FOR = timedelta(hours=1)

# The order a statement's lines are read in.
LINE_ORDER = [
    LineKind.ISSUED,
    LineKind.ISSUED_REVERSAL,
    LineKind.REDEEMED,
    LineKind.REDEEMED_REVERSAL,
    LineKind.BREAKAGE_SHARE,
    LineKind.FEE_PERCENT,
    LineKind.FEE_FIXED,
]


def terms_currency(partner: Partner) -> str:
    """The currency a partner settles in: its terms' (they cannot switch), or its own."""
    latest = (
        SettlementTerms.objects.filter(partner=partner)
        .order_by("-effective_from")
        .values_list("currency", flat=True)
        .first()
    )
    return latest or partner.default_currency.upper()


def terms_propose(
    *,
    partner: Partner,
    effective_from: datetime,
    now: datetime | None = None,
    **values: Unpack[TermsValues],
) -> SettlementTerms:
    """A new version as the operator proposes it (not saved), after the console's
    rules: every field valid, effective now or later (``PREVIEW_VALID_FOR`` of
    slack) and after the version in force. ``terms_set`` checks the rest (a
    closed period, the currency) when it is saved."""
    now = now or clock.now()
    terms_values_check(**values)
    if timezone.is_naive(effective_from):
        raise InvalidTerms("effective_from needs a time zone", field="effective_from")
    if effective_from < now - PREVIEW_VALID_FOR:
        raise TermsEffectiveInPast(
            "new terms take effect now or later; if this preview is over an hour old, preview again"
        )
    in_force = terms_in_force(now, partner_id=partner.pk).get(partner.pk)
    if in_force is not None and effective_from <= in_force.effective_from:
        raise TermsBeforeInForce(
            f"the terms in force took effect on {in_force.effective_from:%Y-%m-%d %H:%M} UTC; "
            "new terms must take effect after that"
        )
    currency = terms_currency(partner)
    if not is_known_currency(currency):
        raise InvalidTerms(f"unknown currency {currency!r}", field="currency")
    return SettlementTerms(
        partner=partner, effective_from=effective_from, currency=currency, **values
    )


@dataclass(frozen=True)
class PreviewLine:
    kind: str
    points_now: int
    amount_now: int
    points_proposed: int
    amount_proposed: int

    @property
    def difference(self) -> int:
        return self.amount_proposed - self.amount_now


@dataclass(frozen=True)
class TermsPreview:
    """The last closed period for one partner: what it cost (``net_now``, from its
    stored statement) and what it would have cost (``proposed``) under new terms.
    Amounts are minor units; positive, the partner pays the coalition."""

    period: SettlementPeriod | None
    currency: str
    net_now: int
    proposed: DraftStatement
    lines: list[PreviewLine]

    @property
    def net_proposed(self) -> int:
        return self.proposed.net

    @property
    def difference(self) -> int:
        return self.net_proposed - self.net_now


def terms_preview(*, proposed: SettlementTerms) -> TermsPreview:
    """What the last closed period would have cost ``proposed``'s partner had those
    terms been in force for all of it, next to what it did cost."""
    partner_id = proposed.partner_id
    period = SettlementPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-number").first()
    empty = DraftStatement(partner_id, proposed.currency)
    if period is None or period.end_watermark is None:
        return TermsPreview(None, proposed.currency, 0, empty, [])
    drafts, margin = compute_statements(
        period.start_watermark, period.end_watermark, partner_id=partner_id, valued_at=proposed
    )
    if proposed.fee_fixed:
        billed = FixedFeeCharge.objects.filter(line__statement__period=period)
        months = set(billed.filter(partner_id=partner_id).values_list("month", flat=True))
        months = months or set(billed.values_list("month", flat=True))
        add_fixed_fees(
            drafts, margin, [FixedFeeDue(partner_id, month, proposed) for month in sorted(months)]
        )
    draft = drafts.get(partner_id, empty)
    statement = (
        Statement.objects.filter(period=period, partner_id=partner_id)
        .prefetch_related("lines")
        .first()
    )
    now_by_kind: dict[str, list[int]] = {}
    for line in statement.lines.all() if statement is not None else []:
        points, amount = now_by_kind.setdefault(line.kind, [0, 0])
        now_by_kind[line.kind] = [points + line.points, amount + line.amount]
    proposed_by_kind: dict[str, list[int]] = {}
    for draft_line in draft.lines:
        points, amount = proposed_by_kind.setdefault(draft_line.kind, [0, 0])
        proposed_by_kind[draft_line.kind] = [points + draft_line.points, amount + draft_line.amount]
    lines = [
        PreviewLine(kind, *now_by_kind.get(kind, [0, 0]), *proposed_by_kind.get(kind, [0, 0]))
        for kind in LINE_ORDER
        if kind in now_by_kind or kind in proposed_by_kind
    ]
    return TermsPreview(
        period,
        statement.currency if statement is not None else proposed.currency,
        statement.net_amount if statement is not None else 0,
        draft,
        lines,
    )
