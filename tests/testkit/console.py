"""Staff of the merchant console for tests: a client signed in on a partner's host in
each role, and the roles every permission matrix walks through.

Each console area has its own permission file (``tests/loyalty_web/console/``) that
lists its pages with the roles allowed and a ``state`` function naming what a denied
request must leave unchanged; ``assert_page_answers_role`` walks one page for one role
(``login_as`` gives the client for a role, ``assert_answer`` judges the response).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import uuid4

from django.test import Client

from loyalty_web.console.access import SESSION_PARTNER
from tenants.partners.models import Partner
from tenants.staff import services as staff
from tests.testkit import host_client

T = TypeVar("T")

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


@dataclass(frozen=True)
class PageAnswer(Generic[T]):
    """What one role got from one page, for checks a matrix adds of its own."""

    response: Any
    arguments: T
    allowed: bool
    before: object


def assert_page_answers_role(
    partner: Partner,
    other: Partner,
    *,
    role: str,
    page: str,
    allowed: frozenset[str] | set[str],
    setup: Callable[[Partner], T],
    request: Callable[[Client, T], Any],
    state: Callable[[T], object],
) -> PageAnswer[T]:
    """The body of every console permission matrix: sign in as ``role`` on
    ``partner``'s host, prepare what the page acts on (``setup``), note ``state``,
    open the page or press its button (``request``), check the answer with
    ``assert_answer`` and, when the role was refused, that ``state`` is unchanged."""
    # given someone in this role and whatever the page acts on
    client, _user = login_as(partner, role, other)
    arguments = setup(partner)
    before = state(arguments)
    # when they open the page or press its button
    response = request(client, arguments)
    # then staff with the capability get it, and everyone else is refused
    granted = assert_answer(response, role=role, allowed=allowed, page=page)
    if not granted:
        # and nothing changed
        assert state(arguments) == before, (page, role)
    return PageAnswer(response=response, arguments=arguments, allowed=granted, before=before)
