"""Members of the member portal for tests: a client on the coalition's public host,
already signed in as a member (members are not Django users: no force_login)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client

from coalition.members.models import Member
from loyalty_web.portal.access import member_session_values
from tests.testkit import host_client


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
