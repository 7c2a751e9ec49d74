"""Every settlement terms page of the operator console per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Every operator reads a
partner's terms; admins and finance preview and set new ones; the wizard's step
is the admin's. Operator staff without the capability get 403; anyone else is
sent to the operator log-in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Partner
from tests.testkit.operator import OPERATORS, ROLES, assert_answer, login_as

pytestmark = pytest.mark.django_db

ADMIN = frozenset({"admin"})
TERMS_SETTERS = frozenset({"admin", "finance"})

VALUES = {
    "issuance_price": "1.1",
    "reimbursement_rate": "0.9",
    "fee_percent": "1.5",
    "fee_fixed": "250",
    "breakage_share_percent": "10",
}


def _state() -> tuple[Any, ...]:
    return (
        sorted(SettlementTerms.objects.values_list("id", "partner_id", "issuance_price")),
        AuditEntry.objects.count(),
    )


def _confirm() -> dict[str, str]:
    return {"effective_from": (timezone.now() + timedelta(days=3)).isoformat(), **VALUES}


Request = Callable[[Client, Partner], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "terms": (lambda c, p: c.get(f"/operator/partners/{p.slug}/terms/"), OPERATORS),
    "terms (csv)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/terms/?format=csv"),
                    OPERATORS),
    "new terms (form)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/terms/new/"),
                         TERMS_SETTERS),
    "new terms (preview)": (lambda c, p: c.post(f"/operator/partners/{p.slug}/terms/new/",
                                                VALUES), TERMS_SETTERS),
    "new terms (confirm)": (lambda c, p: c.post(f"/operator/partners/{p.slug}/terms/confirm/",
                                                _confirm()), TERMS_SETTERS),
    "wizard terms (form)": (lambda c, p: c.get(f"/operator/partners/{p.slug}/setup-terms/"),
                            ADMIN),
    "wizard terms (preview)": (lambda c, p: c.post(f"/operator/partners/{p.slug}/setup-terms/",
                                                   VALUES), ADMIN),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_terms_page_answers_each_role(partner_a: Partner, page: str, role: str) -> None:
    request, allowed = PAGES[page]
    # given someone in this role
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, partner_a)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        if page == "new terms (confirm)":  # and the allowed confirmation sets one version
            assert len(_state()[0]) == len(before[0]) + 1
        elif "preview" in page:  # and a preview writes nothing
            assert response.status_code == 200
            assert _state() == before
        return
    # and nothing changed
    assert _state() == before
