"""Every settlement page of the operator console per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Admin, finance and
read-only staff read periods, statements and the netting; only admin and
finance close a period. Operator staff without the capability get 403; anyone
else is sent to the operator log-in. A denied request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.settlement.models import SettlementPeriod, Statement
from tenants.partners.models import Partner
from tests.testkit.operator import ROLES, assert_answer, login_as
from tests.testkit.settlement import period_with_netting

pytestmark = pytest.mark.django_db

READERS = frozenset({"admin", "finance", "read_only"})
CLOSERS = frozenset({"admin", "finance"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(SettlementPeriod.objects.values_list("number", "status", "close_reason")),
        Statement.objects.count(),
        AuditEntry.objects.count(),
    )


def _close(client: Client, period: SettlementPeriod) -> Any:
    return client.post(
        "/operator/settlement/close/",
        {"period": period.number + 1, "reason": "partner leaves", "idempotency_key": uuid4().hex},
    )


Request = Callable[[Client, SettlementPeriod, Statement], Any]
P = "/operator/settlement/periods"

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "periods": (lambda c, p, s: c.get("/operator/settlement/"), READERS),
    "periods (csv)": (lambda c, p, s: c.get("/operator/settlement/", {"format": "csv"}), READERS),
    "close (check)": (lambda c, p, s: c.get("/operator/settlement/close/"), CLOSERS),
    "close": (lambda c, p, s: _close(c, p), CLOSERS),
    "period": (lambda c, p, s: c.get(f"{P}/{p.number}/"), READERS),
    "period statements (csv)": (lambda c, p, s: c.get(f"{P}/{p.number}/", {"format": "csv"}),
                                READERS),
    "period obligations (csv)": (lambda c, p, s: c.get(
        f"{P}/{p.number}/", {"format": "csv", "table": "obligations"}), READERS),
    "period transfers (csv)": (lambda c, p, s: c.get(
        f"{P}/{p.number}/", {"format": "csv", "table": "transfers"}), READERS),
    "statement": (lambda c, p, s: c.get(f"{P}/{p.number}/statements/{s.pk}/"), READERS),
    "statement (csv)": (lambda c, p, s: c.get(f"{P}/{p.number}/statements/{s.pk}/",
                                              {"format": "csv"}), READERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_settlement_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    request, allowed = PAGES[page]
    # given a closed period with statements and netting, and someone in this role
    period = period_with_netting(partner_a, partner_b)
    statement = Statement.objects.get(period=period, partner=partner_a)
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, period, statement)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        return
    # and nothing changed
    assert _state() == before


def test_the_settlement_area_is_in_the_navigation_of_the_roles_that_may_read(
    partner_a: Partner,
) -> None:
    for role in ("admin", "finance", "support", "read_only"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/partners/").content.decode()
        assert ('href="/operator/settlement/"' in html) == (role in READERS), role
