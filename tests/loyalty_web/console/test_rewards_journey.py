"""A manager creates a reward in a browser: the empty form lists its problems
next to the fields, the filled one creates the reward with its stock, limit,
channels and validity; the list shows it; editing changes its stock; retiring
asks first and restoring puts it back. Every page passes the accessibility
check, fetches nothing from outside the machine, and is photographed at desktop
and phone size."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coalition.catalogue.models import CatalogueEntry
from tenants.rewards.models import Reward
from tenants.staff import services as staff
from tests.testkit import in_partner
from tests.testkit.api import onboard
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def test_a_manager_creates_a_reward(browser_page: Any, live_server_url: str) -> None:
    # a partner of its own: browser tests share committed data
    partner = onboard(prefix="shop", currency="EUR")
    host = f"{partner.slug}.localhost"
    manager = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"manager-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="manager",
    )
    code = f"coffee-{uuid4().hex[:4]}"
    name = f"Free coffee {code[-4:]}"
    page = browser_page.page

    # when the manager signs in and opens the rewards
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(manager.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Rewards").click()
    check_page(browser_page, "console-rewards-empty")

    # and sends the create form empty: the problems are listed next to their fields
    page.get_by_role("link", name="Create a reward").click()
    page.get_by_role("button", name="Create reward").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_text("Enter the reward's code").first).to_be_visible()
    check_page(browser_page, "console-reward-form-error")

    # and creates a 150-point coffee, 20 in stock, once per member, in apps, for a month
    local = timezone.localtime(timezone.now(), ZoneInfo(partner.time_zone))
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Category (optional)").fill("drinks")
    page.get_by_label("Price in points").fill("150")
    page.get_by_label("Stock left (optional)").fill("20")
    page.get_by_label("Limit per member (optional)").fill("1")
    page.get_by_label("Valid from (optional)").fill(f"{local - timedelta(hours=1):%Y-%m-%dT%H:%M}")
    page.get_by_label("Valid until (optional)").fill(f"{local + timedelta(days=30):%Y-%m-%dT%H:%M}")
    page.get_by_label("Apps and the member portal").check()
    page.get_by_role("button", name="Create reward").click()

    # then it is listed as active, with its price, stock, limit and channel
    expect(page.get_by_text(f"Reward “{name}” created.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    expect(row.get_by_text("150 points")).to_be_visible()
    expect(row.get_by_text("Apps and the member portal")).to_be_visible()
    check_page(browser_page, "console-rewards-created")
    with in_partner(partner):
        reward = Reward.objects.get(code=code)
        assert (reward.stock, reward.per_member_limit, reward.channels) == (20, 1, ["app"])
        assert CatalogueEntry.objects.get(partner=partner, reward_id=reward.pk).category == "drinks"

    # when the stock runs out and the manager sets it to 0, the list says out of stock
    page.get_by_role("link", name=f"Edit {name}").click()
    check_page(browser_page, "console-reward-edit")
    page.get_by_label("Stock left (optional)").fill("0")
    page.get_by_role("button", name="Save reward").click()
    expect(page.get_by_text(f"Reward “{name}” saved.")).to_be_visible()
    expect(
        page.get_by_role("row").filter(has_text=name).get_by_text("Out of stock")
    ).to_be_visible()

    # and retiring asks first, then takes it off sale; restoring puts it back
    page.get_by_role("link", name=f"Retire {name}").click()
    expect(page.get_by_role("heading", name=f"Retire “{name}”?")).to_be_visible()
    check_page(browser_page, "console-reward-retire")
    page.get_by_role("button", name="Retire reward").click()
    expect(page.get_by_text(f"Reward “{name}” is retired")).to_be_visible()
    page.get_by_role("button", name=f"Restore {name}").click()
    expect(page.get_by_text(f"Reward “{name}” is back on offer.")).to_be_visible()
    with in_partner(partner):
        assert Reward.objects.get(code=code).is_active is True
