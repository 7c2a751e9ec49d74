"""Every operator page per role: admin, finance, support, read-only, a partner's
staff (signed in to its console), a member (signed in to the portal) and an
anonymous visitor. Operator staff without the capability get 403; anyone else is
sent to the operator log-in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.operators.models import OnboardingRequest, OperatorMembership
from tenants.partners.models import Partner, PartnerStatusChange
from tenants.staff.models import StaffInvitation
from tests.testkit.operator import OPERATORS, ROLES, assert_answer, login_as

pytestmark = pytest.mark.django_db

ADMIN = frozenset({"admin"})
READERS_OF_AUDIT = frozenset({"admin", "finance"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(Partner.objects.values_list("id", "slug", "status", "stripe_account_id")),
        PartnerStatusChange.objects.count(),
        StaffInvitation.objects.count(),
        OnboardingRequest.objects.count(),
        OperatorMembership.objects.count(),
        AuditEntry.objects.count(),
        len(mail.outbox),
    )


def _onboard_form() -> dict[str, str]:
    slug = f"perm-{uuid4().hex[:8]}"
    return {
        "name": "Permission Café",
        "slug": slug,
        "default_currency": "EUR",
        "time_zone": "Europe/Madrid",
        "contact_email": "cafe@example.com",
        "request_key": uuid4().hex,
    }


Request = Callable[[Client, Partner], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "home": (lambda c, p: c.get("/operator/"), frozenset(ROLES)),
    "partners": (lambda c, p: c.get("/operator/partners/"), OPERATORS),
    "partners (filtered)": (lambda c, p: c.get("/operator/partners/?status=active&q=al"),
                            OPERATORS),
    "partners (csv)": (lambda c, p: c.get("/operator/partners/?format=csv"), OPERATORS),
    "partner": (lambda c, p: c.get(f"/operator/partners/{p.slug}/"), OPERATORS),
    "two-step page": (lambda c, p: c.get("/operator/account/two-step/"), OPERATORS),
    "onboard (form)": (lambda c, p: c.get("/operator/onboard/"), ADMIN),
    "onboard": (lambda c, p: c.post("/operator/onboard/", _onboard_form()), ADMIN),
    "first owner (form)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/owner/"), ADMIN),
    "first owner": (lambda c, p: c.post(f"/operator/partners/{p.slug}/owner/",
                                        {"email": f"o-{uuid4().hex[:6]}@example.com"}), ADMIN),
    "payouts (page)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/payouts/"), ADMIN),
    "suspend (confirm)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/status/suspended/"),
                          ADMIN),
    "suspend": (lambda c, p: c.post(f"/operator/partners/{p.slug}/status/suspended/",
                                    {"reason": "unpaid invoices"}), ADMIN),
    "offboard": (lambda c, p: c.post(f"/operator/partners/{p.slug}/status/offboarded/",
                                     {"reason": "left the coalition"}), ADMIN),
    "audit log": (lambda c, p: c.get("/operator/audit/"), READERS_OF_AUDIT),
    "audit log (operator only)": (lambda c, p: c.get("/operator/audit/?where=coalition"),
                                  READERS_OF_AUDIT),
    "audit log (a partner, csv)": (
        lambda c, p: c.get(f"/operator/audit/?where={p.slug}&format=csv"), READERS_OF_AUDIT),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_operator_page_answers_each_role(partner_a: Partner, page: str, role: str) -> None:
    request, allowed = PAGES[page]
    # given someone in this role
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, partner_a)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        return
    # and nothing changed
    assert _state() == before


@pytest.mark.parametrize("role", ["admin", "finance"])
def test_admin_and_finance_must_set_up_two_step_sign_in_first(
    partner_a: Partner, role: str
) -> None:
    from tests.testkit.operator import operator, signed_in

    client = signed_in(operator(role, two_step=False))
    for path in ("/operator/partners/", f"/operator/partners/{partner_a.slug}/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/operator/account/two-step/"
    assert client.get("/operator/account/two-step/").status_code == 200


def test_support_and_read_only_may_go_without_two_step_sign_in(partner_a: Partner) -> None:
    from tests.testkit.operator import operator, signed_in

    for role in ("support", "read_only"):
        client = signed_in(operator(role))
        assert client.get("/operator/partners/").status_code == 200
