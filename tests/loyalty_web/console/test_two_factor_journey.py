"""A manager turns on two-step sign-in in a browser, signs out, and signs in again
with the password and then the code from the app. Each page passes the
accessibility check and is photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.testkit.api import onboard
from tests.testkit.browser import check_page
from tests.testkit.two_factor import PASSWORD, code_for, staff_member

pytestmark = pytest.mark.slow


def test_a_manager_turns_on_two_step_sign_in_and_signs_in_with_a_code(browser_page: Any) -> None:
    # a partner of its own: browser tests share committed data, and what one
    # journey creates (rule versions, keys) must not show in another
    partner_a = onboard(prefix="shop", currency="EUR")
    host = f"{partner_a.slug}.localhost"
    user = staff_member(partner_a)
    page = browser_page.page

    page.goto(browser_page.url("/", host=host))
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # when the manager opens two-step sign-in from the header and sets it up
    page.get_by_role("link", name="Two-step sign-in").click()
    expect(page.get_by_text("Two-step sign-in is off")).to_be_visible()
    check_page(browser_page, "console-two-step-off")
    page.get_by_role("button", name="Set up two-step sign-in").click()
    expect(page.locator("figure.qr svg")).to_be_visible()
    key = page.locator("code.secret").inner_text().replace(" ", "")
    device = TOTPDevice.objects.get(user_id=user.pk)
    assert key  # the same key the QR code holds, typed in by hand
    assert device.config_url.find(f"secret={key}") > 0
    check_page(browser_page, "console-two-step-setup")

    # and first types a code that is not right: the key stays on the page
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    TOTPDevice.objects.filter(user_id=user.pk).update(throttling_failure_count=0)
    page.get_by_label("Code from your authenticator app").fill(code_for(user))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_text("Two-step sign-in is on. From now on")).to_be_visible()
    check_page(browser_page, "console-two-step-on")

    # then signing in again takes the password and then a code
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    check_page(browser_page, "console-login-code")
    page.get_by_label("Code from your authenticator app").fill(code_for(user, step_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
