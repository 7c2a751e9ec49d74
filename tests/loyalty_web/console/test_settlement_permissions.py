"""The settlement pages (overview, statement and its CSV, a line's transactions and
their CSV) per role: owners, managers and analysts read reports, downloads need the
export capability; cashiers are refused; another partner's staff and anonymous
visitors are sent to log in. Another partner's statements and lines are not found
(404), never shown. Reading changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from coalition.settlement.models import LineKind, Statement, StatementLine
from tenants.partners.models import Partner
from tests.testkit.console import ROLES, assert_page_answers_role, login_as
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    statement_of,
)

pytestmark = pytest.mark.django_db

READERS = frozenset({"owner", "manager", "analyst"})
EXPORTERS = frozenset({"owner", "manager", "analyst"})


def _state() -> tuple[Any, ...]:
    return (
        Transaction.objects.count(),
        Statement.objects.count(),
        sorted(Statement.objects.values_list("id", "payment_status")),
        AuditEntry.objects.count(),
    )


def _closed_period(partner: Partner, other: Partner) -> dict[str, Any]:
    known_terms(partner, issuance_price="1.0", reimbursement_rate="0.8")
    known_terms(other, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    member = new_member("perm")
    ledger.earn(member_id=member, partner_id=partner.pk, points=500)
    ledger.earn(member_id=member, partner_id=other.pk, points=300)
    period = close_now()
    line = statement_of(period, partner).lines.get(kind=LineKind.ISSUED)
    other_line = statement_of(period, other).lines.get(kind=LineKind.ISSUED)
    return {"number": period.number, "line": line.pk, "other_line": other_line.pk}


Request = Callable[[Client, dict[str, Any]], Any]

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "overview": (lambda c, a: c.get("/settlement/"), READERS),
    "statement": (lambda c, a: c.get(f"/settlement/periods/{a['number']}/"), READERS),
    "statement CSV": (
        lambda c, a: c.get(f"/settlement/periods/{a['number']}/", {"format": "csv"}),
        EXPORTERS,
    ),
    "line": (
        lambda c, a: c.get(f"/settlement/periods/{a['number']}/lines/{a['line']}/"),
        READERS,
    ),
    "line CSV": (
        lambda c, a: c.get(
            f"/settlement/periods/{a['number']}/lines/{a['line']}/", {"format": "csv"}
        ),
        EXPORTERS,
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_settlement_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    request, allowed = PAGES[page]
    # given someone in this role and a closed period with a statement here, when they open the
    # page: readers get it and everyone else is refused
    answer = assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=lambda partner: _closed_period(partner, partner_b),
        request=request,
        state=lambda _arguments: _state(),
    )
    if answer.allowed:
        assert answer.response.status_code == 200
        if "CSV" in page:
            assert answer.response["Content-Type"].startswith("text/csv")
        # and reading changed nothing either
        assert _state() == answer.before


def test_another_partners_statement_and_lines_are_not_found_here(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given an owner of alpha, and a period in which only beta issued points
    client, _user = login_as(partner_a, "owner", partner_b)
    known_terms(partner_b, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    ledger.earn(member_id=new_member("other"), partner_id=partner_b.pk, points=300)
    period = close_now()
    assert not Statement.objects.filter(period=period, partner=partner_a).exists()
    beta_line = statement_of(period, partner_b).lines.get(kind=LineKind.ISSUED)
    # when alpha's owner asks for beta's statement and line, in pages and CSV
    answers = [
        client.get(f"/settlement/periods/{period.number}/"),
        client.get(f"/settlement/periods/{period.number}/", {"format": "csv"}),
        client.get(f"/settlement/periods/{period.number}/lines/{beta_line.pk}/"),
        client.get(f"/settlement/periods/{period.number}/lines/{beta_line.pk}/", {"format": "csv"}),
    ]
    # then none of them exists here
    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert b"300" not in b"".join(answer.content for answer in answers)


def test_a_line_of_another_partner_in_a_shared_period_is_not_found_here(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a period in which both partners have statements
    client, _user = login_as(partner_a, "analyst", partner_b)
    arguments = _closed_period(partner_a, partner_b)
    # when alpha's analyst puts beta's line id in alpha's statement address
    url = f"/settlement/periods/{arguments['number']}/lines/{arguments['other_line']}/"
    # then it is not found, in the page and in the CSV
    assert client.get(url).status_code == 404
    assert client.get(url, {"format": "csv"}).status_code == 404
    assert StatementLine.objects.filter(pk=arguments["other_line"]).exists()


def test_the_open_period_has_no_statement_page(partner_a: Partner, partner_b: Partner) -> None:
    # given an owner and the open period's number
    client, _user = login_as(partner_a, "owner", partner_b)
    period = close_everything_before()
    # when they ask for the statement of the period still open
    response = client.get(f"/settlement/periods/{period.number + 1}/")
    # then there is none yet
    assert response.status_code == 404
