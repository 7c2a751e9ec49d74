"""Members of the member portal for tests: a client on the coalition's public host,
already signed in as a member (members are not Django users: no force_login); every
portal URL by name (``ROUTES``), and a member with one of each thing those URLs
name (``portal_world``), which the permission matrix and the accessibility sweep walk."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core import mail
from django.test import Client

from coalition.catalogue.models import CatalogueEntry
from coalition.charity.services import charity_create
from coalition.members.models import Member
from coalition.notifications.models import NotificationKind
from coalition.notifications.services import unsubscribe_token
from coalition.transfers import services as transfers
from loyalty_web.portal.access import member_session_values
from tenants.partners.models import Partner
from tests.testkit import host_client
from tests.testkit.api import funded_member, reward, unique


def public_host() -> str:
    return settings.LOYALTY_BASE_DOMAIN


def portal_client(member: Member) -> Client:
    """A client on the public host whose session is ``member``'s portal session."""
    client = host_client(public_host())
    session = client.session
    session.update(member_session_values(member))
    session.set_expiry(settings.LOYALTY_MEMBER_SESSION_IDLE_SECONDS)
    session.save()
    return client


# Each URL of ``loyalty_web/portal/urls.py`` by name: its path (placeholders filled
# from ``portal_world``), the methods it answers and whether it is public (signing in)
# or a member's page. The permission matrix fails for a URL without its row.
MEMBER, PUBLIC = "member", "public"
ROUTES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "home": ("/portal/", ("get",), MEMBER),
    "join": ("/portal/join/", ("get", "post"), PUBLIC),
    "sign_in": ("/portal/sign-in/", ("get", "post"), PUBLIC),
    "sign_in_code": ("/portal/sign-in/code/", ("get", "post"), PUBLIC),
    "sign_in_link": ("/portal/sign-in/link/?t={erase_token}", ("get", "post"), PUBLIC),
    "sign_out": ("/portal/sign-out/", ("post",), PUBLIC),
    "sign_out_everywhere": ("/portal/sign-out/everywhere/", ("post",), MEMBER),
    "history": ("/portal/history/", ("get",), MEMBER),
    "lots": ("/portal/lots/", ("get",), MEMBER),
    "rewards": ("/portal/rewards/", ("get",), MEMBER),
    "reward_redeem": ("/portal/rewards/{entry}/", ("get", "post"), MEMBER),
    "vouchers": ("/portal/vouchers/", ("get",), MEMBER),
    "voucher": ("/portal/vouchers/{slug}/{code}/", ("get",), MEMBER),
    "voucher_cancel": ("/portal/vouchers/{slug}/{code}/cancel/", ("post",), MEMBER),
    "give": ("/portal/give/", ("get",), MEMBER),
    "donate": ("/portal/give/charities/{charity}/", ("get", "post"), MEMBER),
    "transfer": ("/portal/give/transfer/", ("get", "post"), MEMBER),
    "household": ("/portal/household/", ("get",), MEMBER),
    "household_create": ("/portal/household/create/", ("post",), MEMBER),
    "household_invite": ("/portal/household/invite/", ("post",), MEMBER),
    "household_accept": ("/portal/household/invites/{invite}/accept/", ("post",), MEMBER),
    "household_leave": ("/portal/household/leave/", ("post",), MEMBER),
    "household_pool": ("/portal/household/pool/", ("post",), MEMBER),
    "profile": ("/portal/profile/", ("get", "post"), MEMBER),
    "notifications_save": ("/portal/profile/notifications/", ("post",), MEMBER),
    "unsubscribe": ("/portal/unsubscribe/{unsubscribe_token}/", ("get", "post"), PUBLIC),
    "privacy": ("/portal/privacy/", ("get",), MEMBER),
    "privacy_request": ("/portal/privacy/erase/", ("post",), MEMBER),
    "export_confirm": ("/portal/privacy/export/confirm/?t={export_token}", ("get", "post"), MEMBER),
    "erase_confirm": ("/portal/privacy/erase/confirm/?t={erase_token}", ("get", "post"), MEMBER),
}


def portal_world(partner: Partner, capture: Any) -> dict[str, Any]:
    """An owner with a voucher, a household with an invitation waiting (for a third
    address) and live privacy links; an intruder with points of their own."""
    owner = funded_member(partner, 300, "owner")
    intruder = funded_member(partner, 300, "intruder")
    entry = CatalogueEntry.objects.get(partner=partner, code=reward(partner, 100))
    owners = portal_client(owner)
    voucher_url = owners.post(
        f"/portal/rewards/{entry.pk}/", {"idempotency_key": f"own-{uuid4().hex[:8]}"}
    )
    code = voucher_url["Location"].rstrip("/").rsplit("/", 1)[1]
    household = transfers.household_create(head_member_id=owner.pk, name=f"Home {uuid4().hex[:4]}")
    invite = transfers.household_invite(
        member_id=owner.pk, email=f"third-{uuid4().hex[:6]}@example.com", invite_url="https://x/"
    )
    tokens = {}
    for kind in ("export", "erase"):
        with capture(execute=True):
            assert owners.post(f"/portal/privacy/{kind}/").status_code == 302
        found = re.search(rf"/portal/privacy/{kind}/confirm/\?t=([\w-]+)", mail.outbox[-1].body)
        assert found
        tokens[f"{kind}_token"] = found.group(1)
    return {
        "owner": owner,
        "intruder": intruder,
        "entry": entry.pk,
        "slug": partner.slug,
        "code": code,
        "household": household,
        "invite": invite.pk,
        "charity": charity_create(slug=unique("charity"), name="Shelter").slug,
        "unsubscribe_token": unsubscribe_token(owner.pk, NotificationKind.POINTS_EARNED),
        **tokens,
    }
