"""On a phone, a member switches the daily points summary off on their profile;
later, signed out, they follow the unsubscribe link of a voucher e-mail and stop
those too; a link cut short shows a clear error. Every page passes the
accessibility check and is photographed at desktop and phone size."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from coalition.members.services import member_enrol
from coalition.notifications.selectors import notification_preferences
from coalition.notifications.services import notification_send
from loyalty_kernel import clock
from tests.testkit.browser import PHONE, check_page

pytestmark = pytest.mark.slow


def test_a_member_chooses_their_emails_then_unsubscribes_from_a_link(browser_page: Any) -> None:
    # given: a member signs in on a phone with the e-mailed code
    member = member_enrol(email=f"choices-{uuid4().hex[:8]}@example.com")
    page = browser_page.page
    page.set_viewport_size(PHONE)
    page.goto(browser_page.url("/portal/profile/"))
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_role("button", name="E-mail me a code").click()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code
    page.get_by_label("Code from the e-mail").fill(code.group(1))
    page.get_by_role("button", name="Sign in").click()

    # when: they untick the daily summary and save their e-mail choices
    expect(page.get_by_role("heading", name="E-mails we send you")).to_be_visible()
    page.get_by_label("A summary of the points you earned").uncheck()
    page.get_by_role("button", name="Save your e-mail choices").click()

    # then: saved, listed among the recent changes, still unticked
    expect(page.get_by_text("Your e-mail choices are saved.")).to_be_visible()
    expect(page.get_by_text("A summary of the points you earned: switched off")).to_be_visible()
    assert not page.get_by_label("A summary of the points you earned").is_checked()
    assert page.get_by_label("Your voucher when you redeem a reward").is_checked()
    check_page(browser_page, "portal-notifications")
    page.set_viewport_size(PHONE)
    assert notification_preferences(member.pk)["points_earned"] is False

    # given: a voucher e-mail, and the member signed out
    notification_send(
        member_id=member.pk,
        kind="reward_redeemed",
        key="journey",
        context={
            "reward_name": "Free coffee",
            "partner_name": "Bean There",
            "points": 150,
            "voucher_code": "ABCD-EFGH-JKMNP",
            "expires_at": clock.now(),
            "stores": [],
            "voucher_url": "http://localhost:8000/portal/vouchers/",
        },
    )
    found = re.search(r"/portal/unsubscribe/[^/\s]+/", mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    page.get_by_role("button", name="Sign out").click()

    # when: they open the link and stop those e-mails
    page.goto(browser_page.url(found.group(0)))
    expect(page.get_by_text("Your voucher when you redeem a reward")).to_be_visible()
    check_page(browser_page, "portal-unsubscribe")
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Stop these e-mails").click()

    # then: done, without signing in
    expect(page.get_by_text("Done. You will no longer get")).to_be_visible()
    check_page(browser_page, "portal-unsubscribe-done")
    assert notification_preferences(member.pk)["reward_redeemed"] is False

    # and a link cut short shows a clear error
    page.goto(browser_page.url(found.group(0)[:-6] + "/"))
    expect(page.get_by_text("This unsubscribe link is not valid.")).to_be_visible()
    check_page(browser_page, "portal-unsubscribe-invalid")
