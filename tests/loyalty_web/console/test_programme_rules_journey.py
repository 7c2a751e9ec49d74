"""A manager sets up the programme in a browser: creates a store; drafts, previews
and publishes an earn rule; reads the version history and the comparison; changes
the pay-with-points value. Every page passes the accessibility check, fetches
nothing from outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.earning import services as earning
from tenants.earning.models import RuleSetVersion
from tenants.rewards.models import PointsPaymentSettings
from tenants.staff import services as staff
from tenants.stores.models import Store
from tests.testkit import in_partner
from tests.testkit.api import onboard
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def test_a_manager_sets_up_stores_earn_rules_and_the_point_value(
    browser_page: Any, live_server_url: str
) -> None:
    # a partner of its own: browser tests share committed data, and what one
    # journey creates (rule versions, keys) must not show in another
    partner_a = onboard(prefix="shop", currency="EUR")
    host = f"{partner_a.slug}.localhost"
    manager = staff.staff_member_create(
        partner_id=partner_a.pk,
        email=f"manager-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="manager",
    )
    # given rules in force since yesterday (1 point per EUR)
    with in_partner(partner_a):
        launched = timezone.now() - timedelta(days=1)
        first = earning.ruleset_draft_create(description="launch rules")
        earning.rule_add(version=first, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=first, effective_from=launched, now=launched)
    page = browser_page.page
    store_code = f"LYO-{uuid4().hex[:4]}".upper()

    # when the manager signs in
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(manager.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    navigation = page.get_by_role("navigation", name="Console")

    # and adds a store
    navigation.get_by_role("link", name="Stores").click()
    page.get_by_role("link", name="Add a store").click()
    page.get_by_role("button", name="Add store").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "console-store-form-error")
    page.get_by_label("Store code").fill(store_code)
    page.get_by_label("Name").fill("Lyon Part-Dieu")
    page.get_by_label("City").fill("Lyon")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Add store").click()
    expect(page.get_by_text(f"Store {store_code} added.")).to_be_visible()
    expect(page.get_by_role("cell", name="Lyon Part-Dieu", exact=True)).to_be_visible()
    check_page(browser_page, "console-stores")

    # and starts a draft from the rules in force
    navigation.get_by_role("link", name="Earn rules").click()
    page.get_by_label("What changes in this version (optional)").fill("Double points on fruit")
    page.get_by_role("button", name="Start a new draft").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Version \d+"))).to_be_visible()
    check_page(browser_page, "console-rule-draft")

    # and adds a multiplier with the editor for that kind of rule
    page.get_by_label("Kind of rule").select_option("category_multiplier")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Category").fill("fruit")
    page.get_by_label("Multiplier").fill("2")
    check_page(browser_page, "console-rule-editor")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Rule added: 2 times the points on the category fruit")).to_be_visible()

    # and tries it on a basket: 6 apples at 0.50 (3 EUR, doubled) and 2 coffees at 4.50
    page.get_by_role("link", name="Try it on a basket").click()
    page.get_by_label("Basket lines").fill("APPLE-1, fruit, 6, 0.50\nCOFFEE-250, coffee, 2, 4.50")
    page.get_by_role("button", name="Work out the points").click()
    page.get_by_role("heading", name="This basket earns 15 points").wait_for()
    assert page.get_by_role("cell", name="Multiplier on a category").is_visible()
    check_page(browser_page, "console-rule-preview")

    # and publishes it, first (by mistake) for a moment in the past
    page.get_by_role("link", name=re.compile("^Back to version")).click()
    page.get_by_label("At a date and time").check()
    page.get_by_label("Start date and time").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Publish rules").click()
    expect(page.get_by_text(re.compile("cannot take effect in the past")).first).to_be_visible()
    check_page(browser_page, "console-rule-publish-error")
    page.get_by_label("Now").check()
    page.get_by_role("button", name="Publish rules").click()
    expect(page.get_by_text(re.compile(r"Version \d+ is published"))).to_be_visible()
    expect(page.get_by_text("In force", exact=True)).to_be_visible()
    check_page(browser_page, "console-rule-published")

    # then the history lists both versions, and the comparison says what changed
    page.get_by_role("link", name="Back to earn rules").click()
    expect(page.get_by_text("Replaced", exact=True)).to_be_visible()
    check_page(browser_page, "console-rule-history")
    page.get_by_role("link", name=re.compile(r"^Compare with version|Compare two versions")).click()
    fruit = "2 times the points on the category fruit"
    change = page.get_by_role("listitem").filter(has_text=fruit)
    expect(change).to_be_visible()
    expect(page.get_by_text("Added", exact=True)).to_be_visible()
    check_page(browser_page, "console-rule-compare")

    # when the manager sets the pay-with-points value
    navigation.get_by_role("link", name="Point value").click()
    check_page(browser_page, "console-point-value-empty")
    page.get_by_label("What one point pays for").fill("0.01")
    page.get_by_role("button", name="Save the value").click()
    expect(page.get_by_text("The value of a point is saved.")).to_be_visible()
    expect(page.get_by_text("100 points pay for 1.00 EUR", exact=True)).to_be_visible()
    check_page(browser_page, "console-point-value")

    # then everything is stored, and each change is in the audit log
    with in_partner(partner_a):
        assert Store.objects.get(code=store_code).time_zone == "Europe/Paris"
        assert RuleSetVersion.objects.filter(published_at__isnull=False).count() >= 2
        assert PointsPaymentSettings.objects.get().value_per_point == Decimal(1)
    navigation.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name=re.compile("earn_rules.publish")).first).to_be_visible()
    check_page(browser_page, "console-audit-programme")
