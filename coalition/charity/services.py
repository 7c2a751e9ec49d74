"""Charities and donations: a donation is a ledger transfer from the member's
wallet to the charity's account, recorded for the charity's statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from coalition.charity.errors import CharityNotActive, InvalidCharity, UnknownCharity
from coalition.charity.models import Charity, Donation
from coalition.ledger import services as ledger
from coalition.ledger.models import Account, AccountKind
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.money import is_known_currency


def charity_create(
    *,
    slug: str,
    name: str,
    registration_number: str = "",
    currency: str = "EUR",
    point_value: Decimal = Decimal(0),
) -> Charity:
    """A charity with its ledger account. Settlement pays it ``point_value`` (minor
    units of ``currency``) per point donated, each period."""
    currency = currency.upper()
    if not is_known_currency(currency):
        raise InvalidCharity(f"unknown currency {currency!r}", field="currency")
    if point_value < 0:
        raise InvalidCharity("a point's value cannot be negative", field="point_value")
    with transaction.atomic():
        account = Account.objects.create(kind=AccountKind.CHARITY, name=f"charity:{slug}")
        return Charity.objects.create(
            slug=slug,
            name=name,
            registration_number=registration_number,
            account=account,
            currency=currency,
            point_value=point_value,
        )


def donation_make(
    *, member_id: int, charity_slug: str, points: int, idempotency: IdempotencyKey | None = None
) -> Donation:
    charity = Charity.objects.filter(slug=charity_slug).first()
    if charity is None:
        raise UnknownCharity(f"no charity {charity_slug!r}")
    if not charity.is_active:
        raise CharityNotActive(f"{charity.name} does not accept donations now")
    with transaction.atomic():
        posting = ledger.donate(
            member_id=member_id,
            charity_account_id=charity.account_id,
            points=points,
            idempotency=idempotency,
            memo=f"donation to {charity.name}",
        )
        donation, _ = Donation.objects.get_or_create(
            ledger_transaction_id=posting.transaction_id,
            defaults={"charity": charity, "member_id": member_id, "points": points},
        )
    return donation


@dataclass(frozen=True)
class StatementLine:
    month: datetime
    donations: int
    points: int


@dataclass(frozen=True)
class CharityStatement:
    charity: Charity
    lines: list[StatementLine]
    total_points: int
    ledger_balance: int  # what the charity's account holds: must equal total_points


def charity_statement(
    *, charity_slug: str, start: datetime | None = None, end: datetime | None = None
) -> CharityStatement:
    """Donations per month, with the charity account's ledger balance next to them."""
    from coalition.ledger.selectors import account_balance

    charity = Charity.objects.filter(slug=charity_slug).first()
    if charity is None:
        raise UnknownCharity(f"no charity {charity_slug!r}")
    donations = Donation.objects.filter(charity=charity)
    if start is not None:
        donations = donations.filter(created_at__gte=start)
    if end is not None:
        donations = donations.filter(created_at__lt=end)
    rows = (
        donations.annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(count=Count("id"), points=Sum("points"))
        .order_by("month")
    )
    lines = [StatementLine(row["month"], row["count"], int(row["points"])) for row in rows]
    return CharityStatement(
        charity,
        lines,
        sum(line.points for line in lines),
        account_balance(charity.account_id),
    )
