"""The programme in a browser: an operator admin signs in, opens the programme
overview and the tier levels, changes a level's threshold (one at the level
below's first, which is refused) and its name; then adds a charity (the form sent
empty first). Every page passes the accessibility check, fetches nothing from
outside the machine, and is photographed at desktop and phone size."""

from __future__ import annotations

import random
import re
from typing import Any
from uuid import uuid4

import pytest

from coalition.charity.models import Charity
from coalition.tiers.models import TierLevel
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_an_admin_changes_a_tier_level_and_adds_a_charity(browser_page: Any) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    # given two levels of this test only, at the top (committed: removed at the end,
    # as a committed level would change other tests' rules)
    suffix = uuid4().hex[:6]
    rank = random.randint(1_000_000, 2_000_000_000)
    low = TierLevel.objects.create(
        code=f"jlow-{suffix}", name=f"Bronze {suffix}", rank=rank, threshold_points=10**11
    )
    high = TierLevel.objects.create(
        code=f"jhigh-{suffix}", name=f"Silver {suffix}", rank=rank + 1,
        threshold_points=10**11 + 5000,
    )  # fmt: skip
    admin = operator("admin")
    page = browser_page.page
    try:
        # when the admin signs in (the set-up used the current code: the app's next one)
        page.goto(browser_page.url("/operator/"))
        page.get_by_label("E-mail address").fill(admin.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
        page.get_by_label("Code from your authenticator app").fill(code_for(admin, step_ahead=1))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Partners")).to_be_visible()

        # and opens the programme: what is in force
        page.get_by_role("navigation", name="Operator console").get_by_role(
            "link", name="Programme"
        ).click()
        expect(page.get_by_role("heading", name="Programme", exact=True)).to_be_visible()
        check_page(browser_page, "operator-programme")

        # then the tier levels, with the qualification and grace rules
        page.get_by_role("link", name="Tier levels").click()
        expect(page.get_by_role("heading", name="Tier levels", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name="Qualification and grace")).to_be_visible()
        check_page(browser_page, "operator-programme-tiers")

        # when they edit the higher level, its threshold at the lower one's first
        page.get_by_role("link", name=f"Edit {high.name}").click()
        expect(page.get_by_role("heading", name=f"Edit {high.name}")).to_be_visible()
        check_page(browser_page, "operator-programme-tier-edit")
        page.get_by_label("Qualifying points").fill(str(low.threshold_points))
        page.get_by_role("button", name="Save the level").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        expect(page.get_by_text("needs more qualifying points than").first).to_be_visible()
        check_page(browser_page, "operator-programme-tier-error")

        # then with a threshold above it, and a new name
        page.get_by_label("Name").fill(f"Gold {suffix}")
        page.get_by_label("Qualifying points").fill(str(10**11 + 9000))
        page.get_by_role("button", name="Save the level").click()
        expect(page.get_by_text(f"Level Gold {suffix} saved.")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=f"Gold {suffix}")
        expect(row.get_by_text(re.compile(r"100[,.]?000[,.]?009[,.]?000"))).to_be_visible()
        high.refresh_from_db()
        assert (high.name, high.threshold_points) == (f"Gold {suffix}", 10**11 + 9000)

        # when they add a charity, the form sent empty first
        page.get_by_role("link", name="Programme", exact=True).first.click()
        page.get_by_role("link", name="Charities").click()
        expect(page.get_by_role("heading", name="Charities", exact=True)).to_be_visible()
        page.get_by_role("link", name="Add a charity").click()
        expect(page.get_by_role("heading", name="Add a charity")).to_be_visible()
        page.get_by_role("button", name="Add the charity").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        check_page(browser_page, "operator-programme-charity-error")
        page.get_by_label("Short name (slug)").fill(f"food-{suffix}")
        page.get_by_label("Name", exact=True).fill(f"Food Bank {suffix}")
        page.get_by_label("Value of a point (minor units)").fill("0.5")
        page.get_by_role("button", name="Add the charity").click()

        # then it is listed, taking donations
        expect(page.get_by_text(f"Charity Food Bank {suffix} added.")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=f"Food Bank {suffix}")
        expect(row.get_by_text("Open", exact=True)).to_be_visible()
        check_page(browser_page, "operator-programme-charities")
        assert Charity.objects.filter(slug=f"food-{suffix}", is_active=True).count() == 1
    finally:
        TierLevel.objects.filter(pk__in=[low.pk, high.pk]).delete()
