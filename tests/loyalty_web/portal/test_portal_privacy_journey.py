"""On a phone, a member completes their profile, downloads all their data from the
link e-mailed to them, then erases their account the same way and is signed out.
Every page passes the accessibility check and is photographed at desktop and phone
size."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from playwright.sync_api import expect

from coalition.members.models import Member, MemberStatus
from coalition.members.services import member_enrol
from tests.testkit.browser import PHONE, check_page

pytestmark = pytest.mark.slow


def _phone(page: Any) -> None:
    page.set_viewport_size(PHONE)


def _mailed_link(kind: str) -> str:
    found = re.search(
        rf"https?://\S+/portal/privacy/{kind}/confirm/\?t=[\w-]+", mail.outbox[-1].body
    )
    assert found, mail.outbox[-1].body
    return found.group(0)


def test_a_member_downloads_their_data_then_erases_their_account_on_a_phone(
    browser_page: Any,
) -> None:
    # given: a member; they sign in on a phone with the e-mailed code
    member = member_enrol(email=f"privacy-{uuid4().hex[:8]}@example.com")
    page = browser_page.page
    _phone(page)
    page.goto(browser_page.url("/portal/profile/"))
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_role("button", name="E-mail me a code").click()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code
    page.get_by_label("Code from the e-mail").fill(code.group(1))
    page.get_by_role("button", name="Sign in").click()

    # when: they fill in their profile
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    page.get_by_label("Mobile phone number").fill(f"+3460{uuid4().int % 10**7:07d}")
    page.get_by_label("Date of birth").fill("1988-02-29")
    page.get_by_label("Country").fill("ES")
    page.get_by_label("Send me offers by text message").check()
    page.get_by_role("button", name="Save your profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_text("Your profile is complete.")).to_be_visible()
    check_page(browser_page, "portal-profile")
    _phone(page)

    # then: they ask for their data and open the e-mailed link
    page.get_by_role("link", name="Your data: download it or erase your account").click()
    check_page(browser_page, "portal-privacy")
    _phone(page)
    page.get_by_role("button", name="E-mail me a download link").click()
    expect(page.get_by_text(f"We e-mailed a link to {member.email}")).to_be_visible()
    page.goto(_mailed_link("export"))
    check_page(browser_page, "portal-privacy-export")
    _phone(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data").click()
    path = download_info.value.path()
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    assert data["member"]["member_number"] == member.member_number
    assert data["member"]["birth_date"] == "1988-02-29"
    assert data["consents"]["marketing_sms"] is True

    # when: they ask to erase their account and confirm from the e-mail
    page.goto(browser_page.url("/portal/privacy/"))
    page.get_by_role("button", name="E-mail me a link to erase my account").click()
    page.goto(_mailed_link("erase"))
    expect(page.get_by_text("This cannot be undone")).to_be_visible()
    check_page(browser_page, "portal-privacy-erase")
    _phone(page)
    page.get_by_role("button", name="Erase my account").click()

    # then: signed out, and nothing of them is left but the member number
    expect(page.get_by_text("Your account is erased")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    erased = Member.objects.get(pk=member.pk)
    assert erased.status == MemberStatus.ERASED
    assert erased.phone is None
    assert erased.birth_date is None
