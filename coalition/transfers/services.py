"""Transfers between members and household pooling, within yearly caps per tier.

Both members must be active (the ledger refuses otherwise). The cap check reads
the sender's transfers this year, so it runs under a per-sender advisory lock in
the same transaction as the ledger transfer and the audit record: concurrent
transfers can never exceed the cap together.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.members.errors import UnknownMember
from coalition.members.models import Member
from coalition.tiers.selectors import tier_code_of
from coalition.transfers.errors import (
    AlreadyInHousehold,
    HouseholdError,
    HouseholdFull,
    NotInHousehold,
    TransferCapExceeded,
)
from coalition.transfers.models import (
    Household,
    HouseholdMembership,
    TransferCap,
    TransferKind,
    TransferRecord,
)
from loyalty_kernel.idempotency import IdempotencyKey

MAX_HOUSEHOLD_MEMBERS = 6
TRANSFER_LOCK_NAMESPACE = 7_310_002


def yearly_cap(kind: str, tier_code: str | None) -> int | None:
    caps = dict(TransferCap.objects.filter(kind=kind).values_list("tier_code", "yearly_points"))
    if tier_code and tier_code in caps:
        return int(caps[tier_code])
    return int(caps[""]) if "" in caps else None


def sent_this_year(member_id: int, kind: str, year: int) -> int:
    total = TransferRecord.objects.filter(from_member_id=member_id, kind=kind, year=year).aggregate(
        points=Sum("points")
    )["points"]
    return int(total or 0)


def _move(
    *,
    kind: str,
    from_member_id: int,
    to_member_id: int,
    points: int,
    household: Household | None,
    idempotency: IdempotencyKey | None,
) -> TransferRecord:
    year = timezone.now().year
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [TRANSFER_LOCK_NAMESPACE, from_member_id]
            )
        if idempotency is not None:
            done = ledger.transfer_replay(
                from_member_id=from_member_id,
                to_member_id=to_member_id,
                points=points,
                idempotency=idempotency,
            )
            if done is not None:
                record = TransferRecord.objects.filter(
                    ledger_transaction_id=done.transaction_id
                ).first()
                if record is not None:
                    return record
        cap = yearly_cap(kind, tier_code_of(from_member_id))
        if cap is not None:
            used = sent_this_year(from_member_id, kind, year)
            if used + points > cap:
                raise TransferCapExceeded(
                    f"{kind} cap is {cap} points a year; {used} used, {points} asked"
                )
        posting = ledger.transfer(
            from_member_id=from_member_id,
            to_member_id=to_member_id,
            points=points,
            idempotency=idempotency,
            memo=kind,
        )
        record, _ = TransferRecord.objects.get_or_create(
            ledger_transaction_id=posting.transaction_id,
            defaults={
                "kind": kind,
                "from_member_id": from_member_id,
                "to_member_id": to_member_id,
                "household": household,
                "points": points,
                "year": year,
            },
        )
    return record


def points_transfer(
    *,
    from_member_id: int,
    to_member_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
) -> TransferRecord:
    return _move(
        kind=TransferKind.TRANSFER,
        from_member_id=from_member_id,
        to_member_id=to_member_id,
        points=points,
        household=None,
        idempotency=idempotency,
    )


def household_create(*, head_member_id: int, name: str) -> Household:
    if not Member.objects.filter(pk=head_member_id).exists():
        raise UnknownMember("no such member")
    with transaction.atomic():
        if HouseholdMembership.objects.filter(member_id=head_member_id).exists():
            raise AlreadyInHousehold("that member already belongs to a household")
        household = Household.objects.create(head_id=head_member_id, name=name)
        HouseholdMembership.objects.create(household=household, member_id=head_member_id)
    return household


def household_join(*, household_id: int, member_id: int) -> HouseholdMembership:
    with transaction.atomic():
        household = Household.objects.select_for_update().filter(pk=household_id).first()
        if household is None:
            raise HouseholdError(f"no household {household_id}")
        if not Member.objects.filter(pk=member_id).exists():
            raise UnknownMember("no such member")
        if HouseholdMembership.objects.filter(member_id=member_id).exists():
            raise AlreadyInHousehold("that member already belongs to a household")
        if household.memberships.count() >= MAX_HOUSEHOLD_MEMBERS:
            raise HouseholdFull(f"a household has at most {MAX_HOUSEHOLD_MEMBERS} members")
        return HouseholdMembership.objects.create(household=household, member_id=member_id)


def household_pool(
    *, member_id: int, points: int, idempotency: IdempotencyKey | None = None
) -> TransferRecord:
    """Move a member's points to their household's head (the pooled wallet)."""
    membership = (
        HouseholdMembership.objects.select_related("household").filter(member_id=member_id).first()
    )
    if membership is None:
        raise NotInHousehold("the member belongs to no household")
    household = membership.household
    if household.head_id == member_id:
        raise HouseholdError("the head's wallet is the pool already")
    return _move(
        kind=TransferKind.HOUSEHOLD,
        from_member_id=member_id,
        to_member_id=household.head_id,
        points=points,
        household=household,
        idempotency=idempotency,
    )
