"""The programme pages (stores, earn rules, the value of a point) per role: every
member of staff reads them, owners and managers change them, another partner's
staff and anonymous visitors are sent to log in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from tenants.earning import services as earning
from tenants.earning.models import EarnRule, RuleSetVersion
from tenants.partners.models import Partner
from tenants.rewards.models import PointsPaymentSettings
from tenants.stores.models import Store
from tenants.stores.services import store_create
from tests.testkit import in_partner
from tests.testkit.console import ALL_STAFF, ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

CONFIGURERS = frozenset({"owner", "manager"})


def _state(partner: Partner) -> tuple[Any, ...]:
    with in_partner(partner):
        return (
            sorted(Store.objects.values_list("code", "name", "city", "is_active")),
            sorted(RuleSetVersion.objects.values_list("number", "published_at", "effective_from")),
            sorted(EarnRule.objects.values_list("id", "version_id", "kind", "params", "name")),
            sorted(PointsPaymentSettings.objects.values_list("id", "value_per_point")),
            AuditEntry.objects.count(),
        )


def _nothing(partner: Partner) -> dict[str, Any]:
    return {}


def _store(partner: Partner) -> dict[str, Any]:
    code = f"P-{uuid4().hex[:8]}"
    with in_partner(partner):
        store_create(code=code, name="Permission test shop")
    return {"code": code}


def _closed_store(partner: Partner) -> dict[str, Any]:
    code = f"C-{uuid4().hex[:8]}"
    with in_partner(partner):
        store = store_create(code=code, name="Closed shop")
        Store.objects.filter(pk=store.pk).update(is_active=False)
    return {"code": code}


def _draft(partner: Partner) -> dict[str, Any]:
    with in_partner(partner):
        draft = earning.ruleset_draft_create(description="permissions")
        rule = earning.rule_add(version=draft, kind="base_rate", params={"rates": {"EUR": "1"}})
    return {"number": draft.number, "rule": rule.pk}


Setup = Callable[[Partner], dict[str, Any]]
Request = Callable[[Client, dict[str, Any]], Any]

NEW_STORE = {"name": "New shop", "channel": "pos", "city": "Lyon", "time_zone": "Europe/Paris"}
BASKET = {"basket": "A-1, fruit, 2, 1.50", "currency": "EUR", "tier": ""}

PAGES: dict[str, tuple[Setup, Request, frozenset[str]]] = {
    # name: (set-up returning arguments, the request, roles allowed)
    "stores": (_nothing, lambda c, a: c.get("/stores/"), ALL_STAFF),
    "add store (form)": (_nothing, lambda c, a: c.get("/stores/new/"), CONFIGURERS),
    "add store": (_nothing, lambda c, a: c.post(
        "/stores/new/", {**NEW_STORE, "code": f"N-{uuid4().hex[:8]}"}), CONFIGURERS),
    "edit store (form)": (_store, lambda c, a: c.get(f"/stores/{a['code']}/edit/"), CONFIGURERS),
    "edit store": (_store, lambda c, a: c.post(f"/stores/{a['code']}/edit/", NEW_STORE),
                   CONFIGURERS),
    "close store (confirm)": (_store, lambda c, a: c.get(f"/stores/{a['code']}/close/"),
                              CONFIGURERS),
    "close store": (_store, lambda c, a: c.post(f"/stores/{a['code']}/close/"), CONFIGURERS),
    "reopen store": (_closed_store, lambda c, a: c.post(f"/stores/{a['code']}/reopen/"),
                     CONFIGURERS),
    "earn rules": (_draft, lambda c, a: c.get("/earn-rules/"), ALL_STAFF),
    "start a draft": (_nothing, lambda c, a: c.post("/earn-rules/drafts/", {"description": "x"}),
                      CONFIGURERS),
    "version": (_draft, lambda c, a: c.get(f"/earn-rules/{a['number']}/"), ALL_STAFF),
    "publish": (_draft, lambda c, a: c.post(f"/earn-rules/{a['number']}/", {"when": "now"}),
                CONFIGURERS),
    "add rule (form)": (_draft, lambda c, a: c.get(
        f"/earn-rules/{a['number']}/rules/new/?kind=sku_bonus"), CONFIGURERS),
    "add rule": (_draft, lambda c, a: c.post(
        f"/earn-rules/{a['number']}/rules/new/?kind=sku_bonus",
        {"sku": "A-1", "points_per_unit": "5", "name": ""}), CONFIGURERS),
    "change rule (form)": (_draft, lambda c, a: c.get(
        f"/earn-rules/{a['number']}/rules/{a['rule']}/"), CONFIGURERS),
    "change rule": (_draft, lambda c, a: c.post(
        f"/earn-rules/{a['number']}/rules/{a['rule']}/",
        {"currency": "EUR", "rate": "3", "name": ""}), CONFIGURERS),
    "remove rule": (_draft, lambda c, a: c.post(
        f"/earn-rules/{a['number']}/rules/{a['rule']}/remove/"), CONFIGURERS),
    "preview": (_draft, lambda c, a: c.get(f"/earn-rules/{a['number']}/preview/", BASKET),
                ALL_STAFF),
    "compare": (_draft, lambda c, a: c.get("/earn-rules/compare/"), ALL_STAFF),
    "point value": (_nothing, lambda c, a: c.get("/point-value/"), ALL_STAFF),
    "change point value": (_nothing, lambda c, a: c.post("/point-value/", {"value": "0.02"}),
                           CONFIGURERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_programme_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    setup, request, allowed = PAGES[page]
    # given someone in this role and whatever the page acts on, when they open the page or press
    # its button: staff with the capability get it, and everyone else is refused; a refusal
    # changes nothing
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=setup,
        request=request,
        state=lambda _arguments: _state(partner_a),
    )


def test_a_manager_of_alpha_changes_nothing_at_beta(partner_a: Partner, partner_b: Partner) -> None:
    # given a manager signed in at alpha, and a store and a point value at beta
    client, _user = login_as(partner_a, "manager", partner_b)
    code = _store(partner_b)["code"]
    with in_partner(partner_b):
        PointsPaymentSettings.objects.get_or_create(
            defaults={"value_per_point": Decimal(1), "currency": "EUR"}
        )
    before = _state(partner_b)
    # when the session is sent to beta's host
    client.defaults["HTTP_HOST"] = f"{partner_b.slug}.localhost"
    close = client.post(f"/stores/{code}/close/")
    value = client.post("/point-value/", {"value": "5"})
    # then beta asks for a log-in and nothing changed there
    assert close.status_code == value.status_code == 302
    assert close["Location"].startswith("/login/")
    assert _state(partner_b) == before
