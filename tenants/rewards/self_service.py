"""A member's own rewards across brands, from the coalition's public host.

A member redeems any partner's reward themselves (the portal, or a member app with a
member token): the reward's partner honours it, so the redemption runs the partner's
own ``reward_redeem`` inside that partner's schema, and the ledger burn settles to
that partner exactly as a redemption by its own app does. The member sees their
vouchers of every partner in one list, and cancels one while it is unused; a voucher
of another member is unknown to them, never "someone else's".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coalition.ledger.errors import PartnerNotActive
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.tenancy import in_tenant
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.errors import UnknownReward, UnknownVoucher
from tenants.rewards.models import Voucher, VoucherStatus
from tenants.stores.models import Store, StoreChannel

# A member redeeming by themselves does it on their own device: a reward a partner
# keeps for its tills (channel "pos") is not redeemable from the portal.
MEMBER_CHANNEL = StoreChannel.APP.value

# A voucher lives in its partner's schema; the list reads every partner's table
# in one statement, newest first.
VOUCHER_COLUMNS = """
    v.code AS voucher_code, r.code AS reward_code, r.name AS reward_name, v.points,
    v.status, v.issued_at, v.expires_at, v.consumed_at, v.cancelled_at
"""


@dataclass(frozen=True)
class MemberVoucher:
    partner_id: int
    partner_slug: str
    partner_name: str
    code: str
    reward_code: str
    reward_name: str
    points: int
    status: str
    issued_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    cancelled_at: datetime | None

    def state(self, now: datetime) -> str:
        """What the member can do with it: "usable", "used", "cancelled" or "expired"."""
        if self.status == VoucherStatus.CONSUMED:
            return "used"
        if self.status == VoucherStatus.CANCELLED:
            return "cancelled"
        return "usable" if self.expires_at > now else "expired"

    @property
    def display_code(self) -> str:
        """The code in groups (4-4-5 for the 13 characters), easier to read aloud
        at a till; the till ignores the dashes."""
        return "-".join((self.code[:4], self.code[4:8], self.code[8:]))


@dataclass(frozen=True)
class StoreToUse:
    name: str
    city: str
    channel: str  # a StoreChannel value


def _voucher_of(partner: Partner, voucher: Voucher) -> MemberVoucher:
    return MemberVoucher(
        partner_id=partner.pk,
        partner_slug=partner.slug,
        partner_name=partner.name,
        code=voucher.code,
        reward_code=voucher.reward.code,
        reward_name=voucher.reward.name,
        points=voucher.points,
        status=voucher.status,
        issued_at=voucher.issued_at,
        expires_at=voucher.expires_at,
        consumed_at=voucher.consumed_at,
        cancelled_at=voucher.cancelled_at,
    )


def _partner_by_slug(slug: str) -> Partner:
    partner = Partner.objects.filter(slug=slug).first()
    if partner is None:
        raise UnknownReward(f"no partner {slug!r} in the coalition")
    if not partner.is_active:
        raise PartnerNotActive(f"{partner.name} does not take redemptions at the moment")
    return partner


def member_reward_redeem(
    *,
    member_id: int,
    partner_slug: str,
    reward_code: str,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> MemberVoucher:
    """The member spends their points on ``partner_slug``'s reward and gets its voucher
    (only a reward offered in the coalition catalogue).

    The partner's own redemption runs in its schema: the same stock, per-member
    limit, validity and channel rules (``MEMBER_CHANNEL``) and the same burn to
    the partner's redemption account."""
    partner = _partner_by_slug(partner_slug)
    with in_tenant(partner):
        voucher = rewards.reward_redeem(
            member_id=member_id,
            reward_code=reward_code,
            channel=MEMBER_CHANNEL,
            catalogue_only=True,
            idempotency=idempotency,
            now=now,
        )
        return _voucher_of(partner, voucher)


def _own_voucher(partner: Partner, member_id: int, code: str) -> Voucher:
    normalised = rewards.normalise_voucher_code(code)
    voucher = (
        Voucher.objects.select_related("reward")
        .filter(code=normalised, member_id=member_id)
        .first()
        if normalised
        else None
    )
    if voucher is None:  # another member's voucher is as unknown as a made-up code
        raise UnknownVoucher(f"you have no voucher {code!r} at {partner.name}")
    return voucher


def _partner_or_unknown_voucher(slug: str, code: str) -> Partner:
    partner = Partner.objects.filter(slug=slug).first()
    if partner is None:
        raise UnknownVoucher(f"you have no voucher {code!r}")
    return partner


def member_voucher(*, member_id: int, partner_slug: str, code: str) -> MemberVoucher:
    """One of the member's own vouchers (UnknownVoucher for anyone else's)."""
    partner = _partner_or_unknown_voucher(partner_slug, code)
    with in_tenant(partner):
        return _voucher_of(partner, _own_voucher(partner, member_id, code))


def member_voucher_cancel(
    *, member_id: int, partner_slug: str, code: str, now: datetime | None = None
) -> MemberVoucher:
    """Cancel one of the member's own unused vouchers: the points come back."""
    partner = _partner_or_unknown_voucher(partner_slug, code)
    with in_tenant(partner):
        own = _own_voucher(partner, member_id, code)
        voucher = rewards.voucher_cancel(code=own.code, now=now)
        return _voucher_of(partner, voucher)


def member_vouchers(*, member_id: int, limit: int = 50) -> list[MemberVoucher]:
    """The member's vouchers at every partner, newest first (one statement)."""
    partners = {
        row[0]: row
        for row in driver_sql.fetchall(
            """
            SELECT id, slug, name, schema_name FROM public.partners_partner
             WHERE to_regclass(format('%%I.rewards_voucher', schema_name)) IS NOT NULL
             ORDER BY id
            """
        )
    }
    if not partners:
        return []
    parts = [
        f"""(SELECT {partner_id} AS partner_id, {VOUCHER_COLUMNS}
              FROM "{schema}".rewards_voucher v
              JOIN "{schema}".rewards_reward r ON r.id = v.reward_id
             WHERE v.member_id = %(member)s
             ORDER BY v.issued_at DESC LIMIT %(limit)s)"""  # noqa: S608
        for partner_id, (_, _, _, schema) in partners.items()
    ]
    # Schema names and ids come from the partner registry, never from the caller.
    sql = " UNION ALL ".join(parts) + " ORDER BY issued_at DESC, voucher_code LIMIT %(limit)s"
    rows = driver_sql.fetchall(sql, {"member": member_id, "limit": limit})
    return [
        MemberVoucher(
            partner_id=row[0],
            partner_slug=partners[row[0]][1],
            partner_name=partners[row[0]][2],
            code=row[1],
            reward_code=row[2],
            reward_name=row[3],
            points=row[4],
            status=row[5],
            issued_at=row[6],
            expires_at=row[7],
            consumed_at=row[8],
            cancelled_at=row[9],
        )
        for row in rows
    ]


def stores_to_use(*, partner_slug: str) -> list[StoreToUse]:
    """Where a voucher of this partner can be used: its open stores."""
    partner = Partner.objects.filter(slug=partner_slug).first()
    if partner is None:
        return []
    with in_tenant(partner):
        return [
            StoreToUse(name=store.name, city=store.city, channel=store.channel)
            for store in Store.objects.filter(is_active=True).order_by("name")[:50]
        ]
