"""The expiry policy and the transfer caps in a browser: an operator admin opens
the expiry page, types a country code that is no country (refused next to the
field), then a valid list; then sets a yearly cap in the caps table; then lowers
partners' daily adjustment cap in the coalition rules, with a reason. Every page
passes the accessibility check, fetches nothing from outside the machine, and is
photographed at desktop and phone size. The policy and caps are committed, so the
ones in force before are put back at the end."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from coalition.expiry.models import ExpiryPolicy
from coalition.expiry.selectors import expiry_policy
from coalition.rules.models import CoalitionRules
from coalition.rules.selectors import coalition_rules
from coalition.transfers.models import TransferCap
from tests.testkit.browser import check_page
from tests.testkit.operator import operator, signed_in

pytestmark = pytest.mark.slow


def test_an_admin_sets_the_expiry_countries_and_a_transfer_cap(browser_page: Any) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    policies = list(ExpiryPolicy.objects.values())
    caps = list(TransferCap.objects.values())
    admin = operator("admin")
    client = signed_in(admin)
    page = browser_page.page
    # signed in as the admin (the sign-in itself is the other journeys')
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": browser_page.url("/")}]
    )
    try:
        # when the admin opens the expiry policy and types a code that is no country
        page.goto(browser_page.url("/operator/programme/expiry/"))
        expect(page.get_by_role("heading", name="Expiry policy")).to_be_visible()
        check_page(browser_page, "operator-programme-expiry")
        page.get_by_label("Countries with inactivity-only expiry").fill("DE, XK-1")
        page.get_by_role("button", name="Save the expiry policy").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        check_page(browser_page, "operator-programme-expiry-error")

        # then a valid list is saved and shown
        page.get_by_label("Countries with inactivity-only expiry").fill("de fr")
        page.get_by_role("button", name="Save the expiry policy").click()
        expect(page.get_by_text("Expiry policy saved.")).to_be_visible()
        expect(page.get_by_text("FR", exact=True)).to_be_visible()
        assert expiry_policy().inactivity_only_countries == ["DE", "FR"]

        # when they set the default member-to-member cap
        page.goto(browser_page.url("/operator/programme/transfer-caps/"))
        expect(page.get_by_role("heading", name="Transfer caps")).to_be_visible()
        page.get_by_label("Member to member: Default").fill("1500")
        page.get_by_role("button", name="Save the caps").click()
        expect(page.get_by_text("Transfer caps saved.")).to_be_visible()
        expect(page.get_by_label("Member to member: Default")).to_have_value("1500")
        check_page(browser_page, "operator-programme-transfer-caps")

        # when they lower the partners' daily adjustment cap, with a reason
        page.goto(browser_page.url("/operator/programme/"))
        page.get_by_role("link", name="Coalition rules").click()
        expect(page.get_by_role("heading", name="Coalition rules", level=1)).to_be_visible()
        page.get_by_label("Partner adjustments per day (points)").fill("2500")
        page.get_by_role("button", name="Save the coalition rules").click()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
        page.get_by_label("Reason for the change").fill("Fraud seen at one partner")
        page.get_by_role("button", name="Save the coalition rules").click()
        expect(page.get_by_text("Coalition rules saved.")).to_be_visible()
        expect(page.get_by_role("cell", name="Fraud seen at one partner")).to_be_visible()
        assert coalition_rules().adjustment_daily_cap == 2500
        check_page(browser_page, "operator-programme-rules")
    finally:
        CoalitionRules.objects.all().delete()
        ExpiryPolicy.objects.all().delete()
        for values in policies:
            ExpiryPolicy.objects.create(**values)
        TransferCap.objects.all().delete()
        for values in caps:
            TransferCap.objects.create(**values)
