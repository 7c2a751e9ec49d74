"""Charities and donations: a donation is a ledger transfer from the member's
wallet to the charity's account, recorded for the charity's statement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from coalition.audit.services import audit_record
from coalition.charity.errors import (
    CharityNotActive,
    CharitySlugTaken,
    InvalidCharity,
    UnknownCharity,
)
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


# --- the operator console's changes: each audited, with no partner ---------------------

CHARITY_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


def _charity_text(value: str, *, field: str, limit: int, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidCharity(f"Enter the charity's {field.replace('_', ' ')}", field=field)
    if len(value) > limit:
        raise InvalidCharity(f"Keep it to {limit} characters or fewer", field=field)
    return value


def _charity_audit(charity: Charity) -> dict[str, Any]:
    return {
        "slug": charity.slug, "name": charity.name,
        "registration_number": charity.registration_number, "currency": charity.currency,
        "point_value": charity.point_value, "stripe_account_id": charity.stripe_account_id,
        "is_active": charity.is_active,
    }  # fmt: skip


def charity_add(
    *,
    slug: str,
    name: str,
    registration_number: str,
    currency: str,
    point_value: Decimal,
    stripe_account_id: str,
    request_key: str,
    actor: Any,
) -> tuple[Charity, bool]:
    """Add a charity members can donate to (with its ledger account); returns it
    and whether this call added it (False: the same form was sent before). Audited."""
    key = (request_key or "").strip()[:80]
    if not key:
        raise InvalidCharity("The form expired. Open it again and resubmit", field=None)
    done = Charity.objects.filter(request_key=key).first()
    if done is not None:
        return done, False
    slug = (slug or "").strip().lower()
    if not CHARITY_SLUG.match(slug) or slug == "add":  # "add" is the console's address
        raise InvalidCharity(
            "A short name is 2 to 40 lowercase letters, digits or hyphens", field="slug"
        )
    name = _charity_text(name, field="name", limit=120, required=True)
    registration_number = _charity_text(
        registration_number, field="registration_number", limit=60, required=False
    )
    stripe_account_id = _charity_text(
        stripe_account_id, field="stripe_account_id", limit=80, required=False
    )
    try:
        with transaction.atomic():
            if Charity.objects.filter(slug=slug).exists():
                raise CharitySlugTaken(f"There is a charity with the short name {slug} already")
            charity = charity_create(
                slug=slug,
                name=name,
                registration_number=registration_number,
                currency=currency,
                point_value=point_value,
            )
            charity.stripe_account_id = stripe_account_id
            charity.request_key = key
            charity.save(update_fields=["stripe_account_id", "request_key"])
            audit_record(
                actor=actor,
                partner_id=None,
                action="programme.charity_add",
                target=("charity", charity.slug),
                after=_charity_audit(charity),
            )
    except IntegrityError:
        # the same form sent twice at once: the other request added the charity
        done = Charity.objects.filter(request_key=key).first()
        if done is not None:
            return done, False
        raise CharitySlugTaken(f"There is a charity with the short name {slug} already") from None
    return charity, True


def charity_change(
    *,
    slug: str,
    name: str,
    registration_number: str,
    point_value: Decimal,
    stripe_account_id: str,
    actor: Any,
) -> Charity:
    """Change what the operator may change of a charity (its short name names its
    ledger account, and its currency the payouts already made, so both stay).
    Audited; the same values again record nothing."""
    name = _charity_text(name, field="name", limit=120, required=True)
    registration_number = _charity_text(
        registration_number, field="registration_number", limit=60, required=False
    )
    stripe_account_id = _charity_text(
        stripe_account_id, field="stripe_account_id", limit=80, required=False
    )
    if point_value < 0:
        raise InvalidCharity("A point's value cannot be negative", field="point_value")
    with transaction.atomic():
        charity = Charity.objects.select_for_update().filter(slug=slug).first()
        if charity is None:
            raise UnknownCharity(f"no charity {slug!r}")
        before = _charity_audit(charity)
        charity.name = name
        charity.registration_number = registration_number
        charity.point_value = point_value
        charity.stripe_account_id = stripe_account_id
        after = _charity_audit(charity)
        if _plain_equal(before, after):
            return charity
        charity.save(
            update_fields=["name", "registration_number", "point_value", "stripe_account_id"]
        )
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.charity_change",
            target=("charity", charity.slug),
            before=before,
            after=after,
        )
    return charity


def _plain_equal(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return {k: str(v) for k, v in before.items()} == {k: str(v) for k, v in after.items()}


def charity_set_active(*, slug: str, active: bool, actor: Any) -> tuple[Charity, bool]:
    """Stop (or resume) donations to a charity: its account, donations and
    statements stay. Returns the charity and whether this call changed it (a
    second press of the button changes and records nothing). Audited."""
    with transaction.atomic():
        charity = Charity.objects.select_for_update().filter(slug=slug).first()
        if charity is None:
            raise UnknownCharity(f"no charity {slug!r}")
        if charity.is_active == active:
            return charity, False
        charity.is_active = active
        charity.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.charity_reactivate" if active else "programme.charity_deactivate",
            target=("charity", charity.slug),
            before={"is_active": not active},
            after={"is_active": active},
        )
    return charity, True
