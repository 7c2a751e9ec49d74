"""The member's e-mail after a redemption: the voucher code, until when it works
and where to use it (the partner's open stores), through the member's
notification choices and the outbox (one e-mail per voucher)."""

from __future__ import annotations

from django.conf import settings

from coalition.notifications.models import NotificationKind, NotificationStatus
from coalition.notifications.services import notification_send
from loyalty_kernel.tenancy import in_tenant
from tenants.partners.models import Partner
from tenants.rewards.models import Voucher
from tenants.stores.models import Store

VOUCHER_PATH = "/portal/vouchers/{slug}/{code}/"
STORES_LISTED = 10


def voucher_notice_send(*, partner_id: int, voucher_id: int) -> bool:
    """E-mail the voucher to its member; False when nothing was sent (already sent,
    switched off, or the voucher is gone)."""
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return False
    with in_tenant(partner):
        voucher = Voucher.objects.select_related("reward").filter(pk=voucher_id).first()
        if voucher is None:
            return False
        stores = [
            (store.name, store.city)
            for store in Store.objects.filter(is_active=True).order_by("name")[:STORES_LISTED]
        ]
        code = voucher.code
        notification = notification_send(
            member_id=voucher.member_id,
            kind=NotificationKind.REWARD_REDEEMED,
            key=f"voucher:{partner.pk}:{voucher.pk}",
            context={
                "reward_name": voucher.reward.name,
                "partner_name": partner.name,
                "points": voucher.points,
                "voucher_code": "-".join((code[:4], code[4:8], code[8:])),
                "expires_at": voucher.expires_at,
                "stores": stores,
                "voucher_url": settings.LOYALTY_PUBLIC_URL
                + VOUCHER_PATH.format(slug=partner.slug, code=code),
            },
        )
    return notification is not None and notification.status == NotificationStatus.SENT
