"""Reads of transfers and households: what a member may still send this year, their
household with its members, and the invitations waiting for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coalition.members.models import Member
from coalition.members.selectors import masked_email
from coalition.tiers.selectors import tier_code_of, tier_levels_listed
from coalition.transfers.models import (
    Household,
    HouseholdInvite,
    HouseholdMembership,
    TransferCap,
    TransferKind,
)
from coalition.transfers.services import sent_this_year, yearly_cap
from loyalty_kernel import clock

MAX_PENDING_SHOWN = 20  # the newest invitations waiting; older ones still work


@dataclass(frozen=True)
class TransferAllowance:
    cap: int | None  # None: no yearly cap applies
    used: int
    year: int

    @property
    def left(self) -> int | None:
        return None if self.cap is None else max(0, self.cap - self.used)


def transfer_allowance(
    *, member_id: int, kind: str, now: datetime | None = None
) -> TransferAllowance:
    """The member's yearly cap for ``kind`` (by tier), what they sent this year and
    what is left: the same figures the transfer itself checks."""
    year = (now or clock.now()).year
    return TransferAllowance(
        cap=yearly_cap(kind, tier_code_of(member_id)),
        used=sent_this_year(member_id, kind, year),
        year=year,
    )


@dataclass(frozen=True)
class HouseholdMate:
    member_number: str
    email: str  # masked, as the others in the household see it
    is_head: bool
    is_you: bool


@dataclass(frozen=True)
class MemberHousehold:
    household: Household
    is_head: bool
    mates: list[HouseholdMate]
    pending_invites: list[HouseholdInvite]  # the head sees whom they invited


def member_household(*, member_id: int, now: datetime | None = None) -> MemberHousehold | None:
    membership = (
        HouseholdMembership.objects.select_related("household").filter(member_id=member_id).first()
    )
    if membership is None:
        return None
    household = membership.household
    rows = (
        HouseholdMembership.objects.filter(household=household)
        .select_related("member")
        .order_by("joined_at", "pk")
    )
    mates = [
        HouseholdMate(
            member_number=row.member.member_number,
            email=masked_email(row.member),
            is_head=row.member_id == household.head_id,
            is_you=row.member_id == member_id,
        )
        for row in rows
    ]
    is_head = household.head_id == member_id
    pending = (
        list(
            household.invites.filter(
                accepted_at__isnull=True, expires_at__gt=now or clock.now()
            ).order_by("-created_at")[:MAX_PENDING_SHOWN]
        )
        if is_head
        else []
    )
    return MemberHousehold(household, is_head, mates, pending)


def household_invites_for(*, member: Member, now: datetime | None = None) -> list[HouseholdInvite]:
    """Invitations sent to the member's address that they can still accept."""
    return list(
        HouseholdInvite.objects.filter(
            email__iexact=member.email,
            accepted_at__isnull=True,
            expires_at__gt=now or clock.now(),
            household__head__isnull=False,
        )
        .select_related("household")
        .order_by("-created_at")
    )


@dataclass(frozen=True)
class CapRow:
    """One row of the caps table: a tier (empty code: the default for members
    without a tier or without a row of their own) and its yearly cap per kind
    (None: no row, so the default, or no cap at all, applies)."""

    tier_code: str
    tier_name: str
    caps: dict[str, int | None]


def transfer_caps_table() -> list[CapRow]:
    """The default row, then a row per tier level (lowest first), then rows of caps
    naming a tier code that no level has (so they can be seen and cleared)."""
    caps: dict[tuple[str, str], int] = {
        (cap.kind, cap.tier_code): cap.yearly_points for cap in TransferCap.objects.all()
    }
    tiers = [("", "")] + [(level.code, level.name) for level in tier_levels_listed()]
    known = {code for code, _ in tiers}
    tiers += [(code, "") for code in sorted({code for _, code in caps} - known)]
    return [
        CapRow(code, name, {kind: caps.get((kind, code)) for kind in TransferKind.values})
        for code, name in tiers
    ]
