"""The public pages and a partner's console home, seen in Chromium: they render,
pass the accessibility check and fetch nothing from outside the machine."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.partners.models import Partner
from tests.testkit.browser import check_page

pytestmark = pytest.mark.slow


def test_the_coalition_home_lists_the_active_partners(
    browser_page: Any, partner_a: Partner, partner_b: Partner
) -> None:
    # given a visitor on the public host
    page = browser_page.page
    # when they open the home page
    page.goto(browser_page.url("/"))
    # then they see the partners, on an accessible page built from local assets only
    assert page.get_by_text(partner_a.name).first.is_visible()
    assert page.get_by_text(partner_b.name).first.is_visible()
    check_page(browser_page, "coalition-home")


def test_a_partner_host_serves_its_own_console_home(browser_page: Any, partner_a: Partner) -> None:
    # given the partner's own host
    page = browser_page.page
    # when staff open it
    response = page.goto(browser_page.url("/", host=f"{partner_a.slug}.localhost"))
    # then the page names that partner
    assert response is not None
    assert response.status == 200
    assert partner_a.name in page.content()
    check_page(browser_page, "console-home")
