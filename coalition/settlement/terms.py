"""Settlement terms: setting a partner's prices and fees, and which version is in
force at an instant.

"In force" has one definition, the SQL fragment ``TERMS_RANGES``: a partner's
version applies from its ``effective_from`` until the next version's. Valuing a
period's events (``statements``, ``netting``) joins each event to that range, and
looking up the terms in force at one instant (fixed fees, liability) filters the
same ranges, so the two can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TypedDict, Unpack

from django.db import connection
from django.utils import timezone

from coalition.settlement.errors import InvalidTerms, TermsMissing
from coalition.settlement.models import PeriodStatus, SettlementPeriod, SettlementTerms
from loyalty_kernel.money import is_known_currency
from tenants.partners.models import Partner

# Terms as time ranges [starts, ends): the version in force at instant x is the one
# with starts <= x < ends. A CTE named ``terms``, to value events with a hash join
# instead of a per-row lookup.
TERMS_RANGES = """
terms AS (
    SELECT id, partner_id, effective_from AS starts,
           coalesce(lead(effective_from) OVER (PARTITION BY partner_id ORDER BY effective_from),
                    'infinity'::timestamptz) AS ends
      FROM public.settlement_settlementterms
)
"""

TERMS_IN_FORCE_SQL = f"""
WITH {TERMS_RANGES}
SELECT id FROM terms
 WHERE starts <= %(at)s AND %(at)s < ends
   AND (%(partner)s::bigint IS NULL OR partner_id = %(partner)s::bigint)
"""  # noqa: S608 - constant fragments only


# The version in force at each given instant, for many instants in one statement
# (``statements.FIXED_FEES_DUE_SQL`` narrows it to the fees of unbilled months):
# the same ranges, joined to the instants.
TERMS_IN_FORCE_AT_EACH_SQL = f"""
WITH {TERMS_RANGES}
SELECT a.at, terms.id
  FROM unnest(%(instants)s::timestamptz[]) AS a(at)
  JOIN terms ON terms.starts <= a.at AND a.at < terms.ends
 WHERE %(partner)s::bigint IS NULL OR terms.partner_id = %(partner)s::bigint
"""  # noqa: S608 - constant fragments only


def money(points: int | Decimal, rate: Decimal) -> int:
    """Points valued at a per-point price or rate, in minor units (half up)."""
    return int((Decimal(points) * rate).to_integral_value(ROUND_HALF_UP))


class TermsValues(TypedDict):
    """A terms version's prices and fees: what the operator chooses, apart from
    the partner, the instant the version takes effect and its currency."""

    issuance_price: Decimal
    reimbursement_rate: Decimal
    fee_percent: Decimal
    fee_fixed: int
    breakage_share_percent: Decimal


def terms_values_check(**values: Unpack[TermsValues]) -> None:
    """Prices and fees are not negative, percentages are 0 to 100; the error names
    the first field that breaks the rule."""
    for field_name, value in (
        ("issuance_price", values["issuance_price"]),
        ("reimbursement_rate", values["reimbursement_rate"]),
        ("fee_fixed", values["fee_fixed"]),
    ):
        if value < 0:
            raise InvalidTerms("prices and fees cannot be negative", field=field_name)
    for field_name, percent in (
        ("fee_percent", values["fee_percent"]),
        ("breakage_share_percent", values["breakage_share_percent"]),
    ):
        if not 0 <= percent <= 100:
            raise InvalidTerms("percentages are between 0 and 100", field=field_name)


def terms_set(
    *,
    partner: Partner,
    effective_from: datetime,
    issuance_price: Decimal,
    reimbursement_rate: Decimal,
    currency: str | None = None,
    fee_percent: Decimal = Decimal(0),
    fee_fixed: int = 0,
    breakage_share_percent: Decimal = Decimal(0),
) -> SettlementTerms:
    currency = (currency or partner.default_currency).upper()
    if not is_known_currency(currency):
        raise InvalidTerms(f"unknown currency {currency!r}", field="currency")
    if timezone.is_naive(effective_from):
        raise InvalidTerms("effective_from needs a time zone", field="effective_from")
    values: TermsValues = {
        "issuance_price": issuance_price,
        "reimbursement_rate": reimbursement_rate,
        "fee_percent": fee_percent,
        "fee_fixed": fee_fixed,
        "breakage_share_percent": breakage_share_percent,
    }
    terms_values_check(**values)
    settles_in = (
        SettlementTerms.objects.filter(partner=partner)
        .order_by("-effective_from")
        .values_list("currency", flat=True)
        .first()
    )
    if settles_in is not None and settles_in != currency:
        raise InvalidTerms(
            f"{partner.name} settles in {settles_in}; its terms cannot switch to {currency}",
            field="currency",
        )
    latest_close = (
        SettlementPeriod.objects.filter(status=PeriodStatus.CLOSED)
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    if latest_close is not None and effective_from < latest_close:
        raise InvalidTerms(
            "terms cannot take effect inside a closed period", field="effective_from"
        )
    return SettlementTerms.objects.create(
        partner=partner, effective_from=effective_from, currency=currency, **values
    )


def terms_by_id() -> dict[int, SettlementTerms]:
    """Every version (a small table: a few per partner), to resolve the ids the
    valuation statements return."""
    return {terms.pk: terms for terms in SettlementTerms.objects.all()}


def terms_in_force(at: datetime, *, partner_id: int | None = None) -> dict[int, SettlementTerms]:
    """Partner id -> the terms in force at ``at`` (only that partner's, when given);
    partners without terms yet are absent."""
    with connection.cursor() as cursor:
        cursor.execute(TERMS_IN_FORCE_SQL, {"at": at, "partner": partner_id})
        ids = [int(row[0]) for row in cursor.fetchall()]
    return {terms.partner_id: terms for terms in SettlementTerms.objects.filter(pk__in=ids)}


def require_terms(
    terms_id: int | None, partner_id: int, known: dict[int, SettlementTerms]
) -> SettlementTerms:
    """The terms an event was valued at; none means the event predates the
    partner's first terms, and nothing says what its points are worth."""
    if terms_id is None or terms_id not in known:
        raise TermsMissing(
            f"partner {partner_id} has events in this period but no settlement terms in force "
            "when they were posted; add terms from before those events, then close again"
        )
    return known[terms_id]
