"""A manager creates a budgeted campaign in a browser, sees a recorded purchase
move its budget consumption, pauses and resumes it, and ends it after the
confirmation page. Every page passes the accessibility check, fetches nothing
from outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tenants.earning.models import Campaign
from tenants.purchases.services import ReceiptLine, purchase_record
from tenants.staff import services as staff
from tests.testkit import in_partner
from tests.testkit.api import onboard
from tests.testkit.browser import check_page
from tests.testkit.earning import new_member, publish, receipt

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery 9"


def test_a_manager_runs_a_budgeted_campaign(browser_page: Any, live_server_url: str) -> None:
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
    launched = timezone.now() - timedelta(days=1)
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=launched, now=launched)
    name = f"Bonus week {uuid4().hex[:4]}"
    page = browser_page.page

    # when the manager signs in and opens the campaigns
    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(manager.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Campaigns").click()
    check_page(browser_page, "console-campaigns")

    # and sends the create form empty: the problems are listed next to their fields
    page.get_by_role("link", name="Create a campaign").click()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check_page(browser_page, "console-campaign-form-error")

    # and creates a 50-point bonus with a 120-point budget, running from an hour ago
    local = timezone.localtime(timezone.now(), ZoneInfo(partner_a.time_zone))
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Bonus points on every purchase").check()
    page.get_by_label("Bonus points", exact=True).fill("50")
    page.get_by_label("Starts").fill(f"{local - timedelta(hours=1):%Y-%m-%dT%H:%M}")
    page.get_by_label("Ends").fill(f"{local + timedelta(days=7):%Y-%m-%dT%H:%M}")
    page.get_by_label("Budget in points (optional)").fill("120")
    page.get_by_role("button", name="Create campaign").click()

    # then it is listed as running with nothing of its budget used yet
    expect(page.get_by_text(f"Campaign “{name}” created.")).to_be_visible()
    expect(page.get_by_text("0 of 120 points (0%)")).to_be_visible()
    check_page(browser_page, "console-campaigns-created")

    # when a purchase is recorded, the consumption moves by the bonus it got
    with in_partner(partner_a):
        result = purchase_record(
            receipt(new_member().pk, timezone.now(), ReceiptLine("A", "food", 1, 1000))
        )
    assert result.campaign_points == 50
    page.reload()
    expect(page.get_by_text("50 of 120 points (41%)")).to_be_visible()

    # and pausing and resuming it says so
    page.get_by_role("button", name=f"Pause {name}").click()
    expect(page.get_by_text(f"Campaign “{name}” is paused")).to_be_visible()
    page.get_by_role("button", name=f"Resume {name}").click()
    expect(page.get_by_text(f"Campaign “{name}” is active again.")).to_be_visible()

    # and ending it asks first, then is final
    page.get_by_role("link", name=f"End {name}").click()
    expect(page.get_by_role("heading", name=f"End “{name}”?")).to_be_visible()
    check_page(browser_page, "console-campaign-end")
    page.get_by_role("button", name="End campaign").click()
    expect(page.get_by_text(f"Campaign “{name}” has ended.")).to_be_visible()
    with in_partner(partner_a):
        assert Campaign.objects.get(name=name).status == "ended"
