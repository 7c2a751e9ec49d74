"""Every finance report page of the operator console per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Admins, finance and read-only
staff read the reports and download their CSV; support gets 403; anyone else is
sent to the operator log-in. Reading changes nothing, and a refusal neither."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.ledger.models import Lot, Transaction
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.operator import ROLES, assert_answer, login_as

pytestmark = pytest.mark.django_db

READERS = frozenset({"admin", "finance", "read_only"})

PAGES: dict[str, str] = {
    "liability": "/operator/reports/",
    "liability (csv)": "/operator/reports/?format=csv",
    "breakage": "/operator/reports/breakage/",
    "breakage (csv)": "/operator/reports/breakage/?format=csv",
    "issued and redeemed": "/operator/reports/issued-redeemed/",
    "issued and redeemed (csv)": "/operator/reports/issued-redeemed/?format=csv",
}


def _state() -> tuple[Any, ...]:
    return (
        Transaction.objects.count(),
        sorted(Lot.objects.values_list("id", "remaining")),
        AuditEntry.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_report_page_answers_each_role(partner_a: Partner, page: str, role: str) -> None:
    # given points outstanding, and someone in this role
    funded_member(partner_a, 40, prefix="perm-report")
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the report or its CSV
    response = client.get(PAGES[page])
    # then the roles that read reports get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=READERS, page=page):
        if "csv" in page:
            assert response["Content-Type"].startswith("text/csv"), page
        return
    # and nothing changed
    assert _state() == before


def test_the_reports_area_is_in_the_navigation_of_the_roles_that_may_read(
    partner_a: Partner,
) -> None:
    for role in ("admin", "finance", "support", "read_only"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/partners/").content.decode()
        assert ('href="/operator/reports/"' in html) == (role in READERS), role
