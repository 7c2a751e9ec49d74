"""Operator staff for tests: a client on the coalition's public host signed in to
the operator console in each role, and the roles every permission matrix walks.

Admins and finance have two-step sign-in on (their role requires it); "partner_staff"
is an owner of a partner signed in to that partner's console, "member" a member
signed in to the portal, "anonymous" nobody.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.test import Client

from coalition.members.services import member_enrol
from coalition.operators import services
from loyalty_web.console.access import SESSION_PARTNER
from loyalty_web.operator.access import SESSION_OPERATOR
from tenants.partners.models import Partner
from tenants.staff import services as staff
from tenants.staff import two_factor
from tests.testkit import host_client
from tests.testkit.portal import portal_client, public_host
from tests.testkit.two_factor import code_for

ROLES = ("admin", "finance", "support", "read_only", "partner_staff", "member", "anonymous")
OPERATORS = frozenset({"admin", "finance", "support", "read_only"})
PASSWORD = "correct horse battery 9"


def operator(role: str, *, two_step: bool | None = None) -> Any:
    """A new operator staff user in ``role`` (two-step sign-in on where required)."""
    user = services.operator_create(
        email=f"op-{role}-{uuid4().hex[:8]}@example.com", role=role, password=PASSWORD
    ).user
    if two_step if two_step is not None else role in ("admin", "finance"):
        two_factor.two_factor_start(user=user)
        two_factor.two_factor_confirm(user=user, code=code_for(user), partner_id=None)
    return user


def signed_in(user: Any) -> Client:
    client = host_client(public_host())
    client.force_login(user)
    session = client.session
    session[SESSION_OPERATOR] = user.pk
    session.save()
    return client


def login_as(role: str, partner: Partner) -> tuple[Client, Any]:
    if role == "anonymous":
        return host_client(public_host()), None
    if role == "member":
        member = member_enrol(email=f"member-{uuid4().hex[:8]}@example.com")
        return portal_client(member), None
    if role == "partner_staff":
        user = staff.staff_member_create(
            partner_id=partner.pk,
            email=f"owner-{uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            role="owner",
        ).user
        # the same browser signed in to the partner's console, then sent to /operator/
        client = host_client(public_host())
        client.force_login(user)
        session = client.session
        session[SESSION_PARTNER] = partner.pk
        session.save()
        return client, user
    user = operator(role)
    return signed_in(user), user


def assert_answer(response: Any, *, role: str, allowed: frozenset[str], page: str) -> bool:
    """Allowed roles get the page (200, or a redirect that is not to the log-in);
    operator staff without the capability get 403; anyone else is sent to log in."""
    if role in allowed:
        assert response.status_code in (200, 302), (page, role, response.status_code)
        if response.status_code == 302:
            assert "/login/" not in response["Location"], (page, role)
        return True
    if role in OPERATORS:
        assert response.status_code == 403, (page, role, response.status_code)
    else:
        assert response.status_code == 302, (page, role, response.status_code)
        assert response["Location"].startswith("/operator/login/?next="), (page, role)
    return False
