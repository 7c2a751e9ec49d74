"""Reads of charities: the monthly donation statements of one charity or all."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from coalition.charity.models import Charity, Donation
from coalition.charity.services import CharityStatement, StatementLine, UnknownCharity
from coalition.ledger.selectors import account_balances

MAX_MONTHS = 120


def charity_statements(
    *, charity_slug: str | None = None, months: int = 12
) -> list[CharityStatement]:
    """Each charity's statement (one charity's, by slug): its last ``months``
    months of donations, newest first, with the all-time total next to the
    charity account's ledger balance, which must equal it.

    Three statements whatever the number of charities and months: the charities,
    their donations per month, and their account balances.
    """
    if months < 1:
        raise ValueError("last must be at least 1")
    months = min(months, MAX_MONTHS)
    charity_rows = Charity.objects.order_by("name", "slug")
    donations = Donation.objects.all()
    if charity_slug is not None:
        charity_rows = charity_rows.filter(slug=charity_slug)
        donations = donations.filter(charity__slug=charity_slug)
    charities = list(charity_rows)
    if charity_slug is not None and not charities:
        raise UnknownCharity(f"no charity {charity_slug!r}")
    rows = (
        donations.annotate(month=TruncMonth("created_at"))
        .values("charity_id", "month")
        .annotate(count=Count("id"), points=Sum("points"))
        .order_by("charity_id", "-month")
    )
    lines: dict[int, list[StatementLine]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    for row in rows:
        totals[row["charity_id"]] += int(row["points"])
        lines[row["charity_id"]].append(
            StatementLine(row["month"], row["count"], int(row["points"]))
        )
    balances = account_balances([charity.account_id for charity in charities])
    return [
        CharityStatement(
            charity,
            lines[charity.pk][:months],
            totals[charity.pk],
            balances.get(charity.account_id, 0),
        )
        for charity in charities
    ]


def charities_listed() -> list[Charity]:
    """Every charity, active ones first, then by name (the operator console's list)."""
    return list(Charity.objects.order_by("-is_active", "name", "slug"))


def charity_of(slug: str) -> Charity | None:
    return Charity.objects.filter(slug=slug).first()
