"""Transfers between members and household pooling, within yearly caps per tier.

Both members must be active (the ledger refuses otherwise). The cap check reads
the sender's transfers this year, so it runs under a per-sender advisory lock in
the same transaction as the ledger transfer and the audit record: concurrent
transfers can never exceed the cap together.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.ledger import services as ledger
from coalition.ledger.errors import TransferToSelf
from coalition.members.errors import UnknownMember
from coalition.members.models import Member, MemberStatus
from coalition.members.selectors import member_by_email, member_by_number
from coalition.tiers.models import TierLevel
from coalition.tiers.selectors import tier_code_of
from coalition.transfers.errors import (
    AlreadyInHousehold,
    HeadCannotLeave,
    HouseholdError,
    HouseholdFull,
    HouseholdInviteInvalid,
    NotHouseholdHead,
    NotInHousehold,
    RecipientLookupsThrottled,
    TransferCapExceeded,
    TransferCapInvalid,
    UnknownRecipient,
)
from coalition.transfers.models import (
    Household,
    HouseholdInvite,
    HouseholdMembership,
    TransferCap,
    TransferKind,
    TransferRecord,
)
from loyalty_kernel import clock
from loyalty_kernel.idempotency import IdempotencyKey

MAX_HOUSEHOLD_MEMBERS = 6
HOUSEHOLD_INVITE_DAYS = 14
TRANSFER_LOCK_NAMESPACE = 7_310_002

logger = logging.getLogger(__name__)


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
    if from_member_id == to_member_id:
        raise TransferToSelf("You cannot send points to yourself", field="recipient")
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
            raise AlreadyInHousehold("Already in a household: leave it first")
        household = Household.objects.create(head_id=head_member_id, name=name)
        HouseholdMembership.objects.create(household=household, member_id=head_member_id)
    return household


def household_join(*, household_id: int, member_id: int) -> HouseholdMembership:
    with transaction.atomic():
        household = Household.objects.select_for_update().filter(pk=household_id).first()
        if household is None or household.head_id is None:
            raise HouseholdError(f"no household {household_id}")
        if not Member.objects.filter(pk=member_id).exists():
            raise UnknownMember("no such member")
        if HouseholdMembership.objects.filter(member_id=member_id).exists():
            raise AlreadyInHousehold("Already in a household: leave it first")
        if household.memberships.count() >= MAX_HOUSEHOLD_MEMBERS:
            raise HouseholdFull(f"A household has at most {MAX_HOUSEHOLD_MEMBERS} members")
        return HouseholdMembership.objects.create(household=household, member_id=member_id)


def household_pool(
    *, member_id: int, points: int, idempotency: IdempotencyKey | None = None
) -> TransferRecord:
    """Move a member's points to their household's head (the pooled wallet)."""
    membership = (
        HouseholdMembership.objects.select_related("household").filter(member_id=member_id).first()
    )
    if membership is None:
        raise NotInHousehold("You do not belong to a household")
    household = membership.household
    if household.head_id is None or household.head_id == member_id:
        raise HouseholdError("As the head you hold the pooled points already", field="points")
    return _move(
        kind=TransferKind.HOUSEHOLD,
        from_member_id=member_id,
        to_member_id=household.head_id,
        points=points,
        household=household,
        idempotency=idempotency,
    )


def _recipient_misses_key(sender_id: int) -> str:
    hour = int(time.time()) // 3600
    return f"transfers:recipient-misses:{sender_id}:{hour}"


def _recipient_misses(key: str) -> int:
    """Recipients this sender named this hour that could not receive points. The
    count lives in the shared cache; while it is unreachable nobody is refused
    (a warning is logged), so Redis being down never stops a transfer."""
    try:
        return int(cache.get(key) or 0)
    except Exception as exc:  # any cache failure: transfers stay up
        logger.warning("transfer look-up throttle unavailable (%s: %s)", type(exc).__name__, exc)
        return 0


def _recipient_miss_record(key: str) -> None:
    try:
        if not cache.add(key, 1, timeout=3600):
            cache.incr(key)
    except Exception as exc:  # any cache failure: transfers stay up
        logger.warning("transfer look-up throttle unavailable (%s: %s)", type(exc).__name__, exc)


def transfer_recipient(*, sender_id: int, query: str) -> Member:
    """The member a sender names by member number or e-mail address. Unknown,
    blocked and erased members give the same error, so the answer tells the sender
    no more than that the points cannot go there; after
    ``LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR`` such answers in an hour every
    look-up is refused until the hour ends, so a member cannot test addresses to
    learn who is enrolled."""
    query = query.strip()
    misses = _recipient_misses_key(sender_id)
    if _recipient_misses(misses) >= settings.LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR:
        raise RecipientLookupsThrottled(
            "Too many member numbers or addresses that could not receive points. "
            "Try again in an hour, or ask the person for their member number."
        )
    found = member_by_email(query) if "@" in query else member_by_number(query)
    if found is None or found.status != MemberStatus.ACTIVE:
        _recipient_miss_record(misses)
        raise UnknownRecipient(
            "No member can receive points at that member number or e-mail address. "
            "Check it with the person you are sending to."
        )
    if found.pk == sender_id:
        raise TransferToSelf("You cannot send points to yourself", field="recipient")
    return found


def household_invite(
    *, member_id: int, email: str, invite_url: str, now: datetime | None = None
) -> HouseholdInvite:
    """The head invites an e-mail address. The invitation is e-mailed whether or not
    the address is enrolled (the head learns nothing about it); the e-mail says how
    to join first."""
    now = now or clock.now()
    email = email.strip().lower()
    membership = (
        HouseholdMembership.objects.select_related("household").filter(member_id=member_id).first()
    )
    if membership is None:
        raise NotInHousehold("You do not belong to a household yet")
    household = membership.household
    if household.head_id != member_id:
        raise NotHouseholdHead("Only the head of the household can invite people", field="email")
    with transaction.atomic():
        if household.memberships.count() >= MAX_HOUSEHOLD_MEMBERS:
            raise HouseholdFull(
                f"A household has at most {MAX_HOUSEHOLD_MEMBERS} members", field="email"
            )
        invite = HouseholdInvite.objects.create(
            household=household,
            email=email,
            invited_by_id=member_id,
            created_at=now,
            expires_at=now + timedelta(days=HOUSEHOLD_INVITE_DAYS),
        )
        transaction.on_commit(
            lambda: send_mail(
                subject=f"You are invited to join the household {household.name}",
                message=(
                    f"You are invited to pool your {settings.LOYALTY_COALITION_NAME} points "
                    f"with the household {household.name}.\n\n"
                    f"Sign in with this e-mail address to accept: {invite_url}\n"
                    "Not a member yet? Join with this address first, then accept.\n\n"
                    f"The invitation is valid for {HOUSEHOLD_INVITE_DAYS} days. "
                    "If you do not know the sender, ignore this e-mail."
                ),
                from_email=None,
                recipient_list=[email],
            ),
            robust=True,
        )
    return invite


def household_invite_accept(
    *, member_id: int, invite_id: int, now: datetime | None = None
) -> HouseholdMembership:
    """The member the invitation was sent to joins the household, once."""
    now = now or clock.now()
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        raise UnknownMember("no such member")
    with transaction.atomic():
        invite = HouseholdInvite.objects.select_for_update().filter(pk=invite_id).first()
        if (
            invite is None
            or invite.email.lower() != member.email.lower()
            or invite.accepted_at is not None
            or invite.expires_at <= now
        ):
            raise HouseholdInviteInvalid(
                "This invitation is no longer valid. Ask the head of the household for a new one."
            )
        joined = household_join(household_id=invite.household_id, member_id=member_id)
        invite.accepted_at = now
        invite.save(update_fields=["accepted_at"])
    return joined


def _membership_locked(member_id: int) -> HouseholdMembership | None:
    """The member's place in a household (with the household), locked to leave it."""
    return (
        HouseholdMembership.objects.select_for_update()
        .select_related("household")
        .filter(member_id=member_id)
        .first()
    )


def household_leave(*, member_id: int) -> None:
    """A member leaves their household. The head leaves last, which ends it."""
    with transaction.atomic():
        membership = _membership_locked(member_id)
        if membership is None:
            raise NotInHousehold("You do not belong to a household")
        household = membership.household
        if household.head_id == member_id:
            if household.memberships.exclude(member_id=member_id).exists():
                raise HeadCannotLeave(
                    "As the head you leave last: the others must leave the household first"
                )
            membership.delete()
            _household_end(household)
            return
        membership.delete()


def _household_end(household: Household) -> None:
    """The last member has gone: the household ends. Pooling records keep pointing
    at it, so with any it stays, ended, with nobody in it and no invitation open."""
    if not TransferRecord.objects.filter(household=household).exists():
        household.delete()
        return
    household.head = None
    household.save(update_fields=["head"])
    household.invites.filter(accepted_at__isnull=True).delete()


def household_forget_member(*, member_id: int, email: str) -> None:
    """An erased member leaves their household (the head's role passes to the member
    who joined first after them; alone, the household ends), and the invitations
    waiting for their address are deleted: nothing keeps who they were or that they
    were asked. Runs in the erasure's transaction (``member_erased``)."""
    HouseholdInvite.objects.filter(email__iexact=email, accepted_at__isnull=True).delete()
    membership = _membership_locked(member_id)
    if membership is None:
        return
    household = Household.objects.select_for_update().get(pk=membership.household_id)
    membership.delete()
    if household.head_id != member_id:
        return
    successor = household.memberships.order_by("joined_at", "pk").first()
    if successor is None:
        _household_end(household)
        return
    household.head_id = successor.member_id
    household.save(update_fields=["head"])


# --- the caps, as the operator console changes them -------------------------------------

MAX_YEARLY_CAP = 1_000_000_000


def transfer_caps_set(*, caps: dict[tuple[str, str], int | None], actor: Any) -> int:
    """Set the yearly caps the table names: ``(kind, tier code)`` to points a year,
    or None for no row (a tier without its own row falls back to the default, an
    empty tier code; no default means no cap). One transaction, the caps' table
    locked so two edits apply one after the other; each changed row audited.
    Returns how many rows changed (0: the same values again record nothing)."""
    tier_codes = set(TierLevel.objects.values_list("code", flat=True)) | {""}
    for (kind, tier_code), points in caps.items():
        if kind not in TransferKind.values:
            raise TransferCapInvalid(f"Unknown transfer kind {kind!r}", field="kind")
        if tier_code not in tier_codes and points is not None:
            raise TransferCapInvalid(f"There is no tier level {tier_code!r}", field="tier_code")
        if points is not None and not 0 <= points <= MAX_YEARLY_CAP:
            raise TransferCapInvalid(
                f"A cap is a whole number of points from 0 to {MAX_YEARLY_CAP}"
            )
    changed = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE public.transfers_transfercap IN SHARE ROW EXCLUSIVE MODE")
        rows = {(cap.kind, cap.tier_code): cap for cap in TransferCap.objects.all()}
        for (kind, tier_code), points in sorted(caps.items(), key=lambda item: item[0]):
            row = rows.get((kind, tier_code))
            before = None if row is None else row.yearly_points
            if before == points:
                continue
            if points is None and row is not None:
                row.delete()
            elif row is None and points is not None:
                TransferCap.objects.create(kind=kind, tier_code=tier_code, yearly_points=points)
            elif row is not None and points is not None:
                row.yearly_points = points
                row.save(update_fields=["yearly_points"])
            audit_record(
                actor=actor,
                partner_id=None,
                action="programme.transfer_cap_change",
                target=("transfer_cap", f"{kind}/{tier_code or 'default'}"),
                before={"yearly_points": before},
                after={"yearly_points": points},
            )
            changed += 1
    return changed
