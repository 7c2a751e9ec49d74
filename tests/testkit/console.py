"""Staff of the merchant console for tests: a client signed in on a partner's host in
each role, and the roles every permission matrix walks through.

Each console area has its own permission file (``tests/loyalty_web/console/``) that
lists its pages with the roles allowed and a ``state`` function naming what a denied
request must leave unchanged; ``login_as`` gives the client for a role.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.test import Client

from loyalty_web.console.access import SESSION_PARTNER
from tenants.partners.models import Partner
from tenants.staff import services as staff
from tests.testkit import host_client

ROLES = ("owner", "manager", "cashier", "analyst", "other_partner", "anonymous")
ALL_STAFF = frozenset({"owner", "manager", "cashier", "analyst"})
PASSWORD = "correct horse battery 9"


def login_as(partner: Partner, role: str, other: Partner) -> tuple[Client, Any]:
    """A client on ``partner``'s host in ``role``; "other_partner" is an owner of
    ``other`` whose session names ``other``, and "anonymous" is nobody."""
    client = host_client(f"{partner.slug}.localhost")
    if role == "anonymous":
        return client, None
    where = other if role == "other_partner" else partner
    membership = staff.staff_member_create(
        partner_id=where.pk,
        email=f"{role}-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="owner" if role == "other_partner" else role,
    )
    client.force_login(membership.user)
    session = client.session
    # An owner signed in on the other partner's host: the session names that partner.
    session[SESSION_PARTNER] = where.pk
    session.save()
    return client, membership.user


def assert_answer(
    response: Any, *, role: str, allowed: frozenset[str] | set[str], page: str
) -> bool:
    """Staff with the capability get the page (200, or a redirect that is not to the
    log-in); others are sent to log in (anonymous, another partner's staff) or refused
    (403). Returns whether the role was allowed, so the caller checks nothing changed."""
    if role in allowed:
        assert response.status_code in (200, 302), (page, role, response.status_code)
        if response.status_code == 302:
            assert "/login/" not in response["Location"], (page, role)
        return True
    if role in ("anonymous", "other_partner"):
        assert response.status_code == 302, (page, role, response.status_code)
        assert response["Location"].startswith("/login/?next="), (page, role)
    else:
        assert response.status_code == 403, (page, role, response.status_code)
    return False
