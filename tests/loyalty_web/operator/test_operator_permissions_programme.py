"""Every programme page of the operator console (overview, tier levels and
policy, charities, expiry, transfer caps, coalition rules) per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Every operator reads what is
in force; only admins change it. Operator staff without the capability get 403;
anyone else is sent to the operator log-in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.charity.models import Charity
from coalition.charity.services import charity_create
from coalition.expiry.models import ExpiryPolicy
from coalition.rules.models import CoalitionRules
from coalition.tiers.models import TierLevel, TierPolicy
from coalition.transfers.models import TransferCap
from tenants.partners.models import Partner
from tests.testkit.operator import ROLES, assert_answer, login_as

pytestmark = pytest.mark.django_db

READERS = frozenset({"admin", "finance", "support", "read_only"})
ADMINS = frozenset({"admin"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(TierLevel.objects.values_list("code", "name", "rank", "threshold_points")),
        sorted(TierPolicy.objects.values_list("qualification", "grace_days")),
        sorted(Charity.objects.values_list("slug", "name", "point_value", "is_active")),
        sorted(
            ExpiryPolicy.objects.values_list(
                "mode", "months", "inactivity_months", "reminder_days", "inactivity_only_countries"
            )
        ),
        sorted(TransferCap.objects.values_list("kind", "tier_code", "yearly_points")),
        sorted(
            CoalitionRules.objects.values_list(
                "adjustment_daily_cap", "goodwill_approval_threshold", "reason"
            )
        ),
        AuditEntry.objects.count(),
    )


Request = Callable[[Client, dict[str, str]], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "overview": (lambda c, w: c.get("/operator/programme/"), READERS),
    "tiers": (lambda c, w: c.get("/operator/programme/tiers/"), READERS),
    "tiers (csv)": (lambda c, w: c.get("/operator/programme/tiers/", {"format": "csv"}), READERS),
    "tier add (form)": (lambda c, w: c.get("/operator/programme/tiers/add/"), ADMINS),
    "tier add": (lambda c, w: c.post("/operator/programme/tiers/add/", {
        "code": "platinum", "name": "Platinum", "threshold_points": "90000",
        "request_key": uuid4().hex}), ADMINS),
    "tier edit (form)": (lambda c, w: c.get(f"/operator/programme/tiers/{w['level']}/"), ADMINS),
    "tier edit": (lambda c, w: c.post(f"/operator/programme/tiers/{w['level']}/", {
        "name": "Silver plus", "threshold_points": "1500"}), ADMINS),
    "tier policy (form)": (lambda c, w: c.get("/operator/programme/tiers/policy/"), ADMINS),
    "tier policy": (lambda c, w: c.post("/operator/programme/tiers/policy/", {
        "qualification": "calendar_year", "grace_days": "60"}), ADMINS),
    "charities": (lambda c, w: c.get("/operator/programme/charities/"), READERS),
    "charities (csv)": (lambda c, w: c.get("/operator/programme/charities/",
                                           {"format": "csv"}), READERS),
    "charity add (form)": (lambda c, w: c.get("/operator/programme/charities/add/"), ADMINS),
    "charity add": (lambda c, w: c.post("/operator/programme/charities/add/", {
        "slug": f"perm-{uuid4().hex[:8]}", "name": "Food Bank", "currency": "EUR",
        "point_value": "0.5", "request_key": uuid4().hex}), ADMINS),
    "charity edit (form)": (lambda c, w: c.get(f"/operator/programme/charities/{w['charity']}/"),
                            ADMINS),
    "charity edit": (lambda c, w: c.post(f"/operator/programme/charities/{w['charity']}/", {
        "name": "Renamed", "point_value": "1"}), ADMINS),
    "charity stop": (lambda c, w: c.post(
        f"/operator/programme/charities/{w['charity']}/inactive/"), ADMINS),
    "expiry": (lambda c, w: c.get("/operator/programme/expiry/"), READERS),
    "expiry (csv)": (lambda c, w: c.get("/operator/programme/expiry/", {"format": "csv"}),
                     READERS),
    "expiry set": (lambda c, w: c.post("/operator/programme/expiry/", {
        "mode": "inactivity", "months": "12", "inactivity_months": "18", "reminder_days": "20",
        "inactivity_only_countries": "DE, FR"}), ADMINS),
    "transfer caps": (lambda c, w: c.get("/operator/programme/transfer-caps/"), READERS),
    "transfer caps (csv)": (lambda c, w: c.get("/operator/programme/transfer-caps/",
                                               {"format": "csv"}), READERS),
    "transfer caps set": (lambda c, w: c.post("/operator/programme/transfer-caps/", {
        "transfer__": "500", "household__": "900", "transfer__gold": "2000"}), ADMINS),
    "rules": (lambda c, w: c.get("/operator/programme/rules/"), READERS),
    "rules (csv)": (lambda c, w: c.get("/operator/programme/rules/", {"format": "csv"}), READERS),
    "rules set": (lambda c, w: c.post("/operator/programme/rules/", {
        "adjustment_daily_cap": "2500", "goodwill_approval_threshold": "300",
        "reason": "fraud seen at one partner"}), ADMINS),
}  # fmt: skip


def _world() -> dict[str, str]:
    TierLevel.objects.create(code="basic", name="Basic", rank=0, threshold_points=0)
    TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=1000)
    TierLevel.objects.create(code="gold", name="Gold", rank=2, threshold_points=5000)
    charity = charity_create(
        slug=f"perm-{uuid4().hex[:8]}", name="Red Cross", point_value=Decimal("0.5")
    )
    return {"level": "silver", "charity": charity.slug}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_programme_page_answers_each_role(partner_a: Partner, page: str, role: str) -> None:
    request, allowed = PAGES[page]
    # given levels, a charity, and someone in this role
    world = _world()
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, world)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        return
    # and nothing changed
    assert _state() == before


def test_the_programme_is_in_every_operators_navigation_and_only_admins_see_changes(
    partner_a: Partner,
) -> None:
    _world()
    for role in ("admin", "finance", "support", "read_only"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/programme/tiers/").content.decode()
        assert 'href="/operator/programme/"' in html, role
        assert ('href="/operator/programme/tiers/add/"' in html) == (role == "admin"), role
        assert ('href="/operator/programme/tiers/silver/"' in html) == (role == "admin"), role
