"""The operator's monthly charity statements on the coalition host: donations per
month, newest first, with the all-time total next to the charity account's
ledger balance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.charity.models import Charity, Donation
from coalition.charity.services import charity_create, donation_make
from coalition.ledger import selectors as ledger_selectors
from coalition.members.models import Member
from tenants.partners.models import Partner
from tests.testkit import api as s


def _donate(member: Member, charity: str, points: int, at: datetime | None = None) -> None:
    donation = donation_make(member_id=member.pk, charity_slug=charity, points=points)
    if at is not None:  # the donation's month: its record is dated, the ledger is not
        Donation.objects.filter(pk=donation.pk).update(created_at=at)


def _month(at: datetime) -> str:
    return timezone.localtime(at).date().replace(day=1).isoformat()


def _statements(**variables: Any) -> list[dict[str, Any]]:
    reply = s.gql(s.PUBLIC_HOST, s.CHARITY_STATEMENTS_QUERY, variables, s.operator_key())
    statements: list[dict[str, Any]] = reply.payload("charityStatements")
    return statements


def test_charity_statement_lists_months_newest_first_with_the_ledger_balance(
    db: None, partner_a: Partner
) -> None:
    # given: donations to one charity in January, March (two) and this month
    world = s.coalition_world(partner_a)
    january, march = datetime(2024, 1, 15, 12, tzinfo=UTC), datetime(2024, 3, 15, 12, tzinfo=UTC)
    _donate(world.member, world.charity, 10, january)
    _donate(world.member, world.charity, 20, march)
    _donate(world.member, world.charity, 30, march)
    _donate(world.member, world.charity, 40)

    # when: the operator reads the charity's statement
    [statement] = _statements(charity=world.charity)

    # then: one line per month, newest first, and the totals agree with the ledger
    assert statement["charity"] == world.charity
    assert (statement["name"], statement["active"]) == ("Food bank", True)
    assert statement["months"] == [
        {"month": _month(timezone.now()), "donations": 1, "points": 40},
        {"month": _month(march), "donations": 2, "points": 50},
        {"month": _month(january), "donations": 1, "points": 10},
    ]
    assert statement["totalPoints"] == statement["ledgerBalance"] == 100
    # and: last=2 keeps the two newest months, and still the all-time total
    [short] = _statements(charity=world.charity, last=2)
    assert [line["points"] for line in short["months"]] == [40, 50]
    assert short["totalPoints"] == short["ledgerBalance"] == 100


def test_charity_statements_without_a_charity_cover_every_charity(
    db: None, partner_a: Partner
) -> None:
    # given: one charity with donations, one without
    world = s.coalition_world(partner_a)
    quiet = charity_create(slug=s.unique("quiet"), name="Quiet shelter")
    _donate(world.member, world.charity, 15)

    # when: the operator reads every statement
    by_slug = {statement["charity"]: statement for statement in _statements()}

    # then: both, the quiet one empty
    assert by_slug[world.charity]["totalPoints"] == by_slug[world.charity]["ledgerBalance"] == 15
    assert by_slug[quiet.slug] == {
        "charity": quiet.slug, "name": "Quiet shelter", "active": True, "totalPoints": 0,
        "ledgerBalance": 0, "months": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("variables", "code"),
    [({"charity": "no-such-charity"}, "unknown_charity"), ({"last": 0}, "invalid_input"),
     ({"last": -3}, "invalid_input")],
    ids=["unknown charity", "last zero", "last negative"],
)  # fmt: skip
def test_charity_statements_typed_errors(
    db: None, partner_a: Partner, variables: dict[str, Any], code: str
) -> None:
    # given / when: a charity that does not exist, or no months at all
    reply = s.gql(s.PUBLIC_HOST, s.CHARITY_STATEMENTS_QUERY, variables, s.operator_key())

    # then: a typed error, no statements
    assert reply.graphql_codes == [code]
    assert reply.body["data"] is None


def test_charity_statements_cost_the_same_queries_for_2_and_12_charities(
    db: None, partner_a: Partner
) -> None:
    # given: the operator's key (used once), and charities with donations in two months
    world = s.coalition_world(partner_a)
    key = s.operator_key()
    s.gql(s.PUBLIC_HOST, s.CHARITY_STATEMENTS_QUERY, {"last": 1}, key)
    counts = []
    for round_number in range(2):
        for _ in range(2 if round_number == 0 else 10):
            charity = charity_create(slug=s.unique("count"), name="Counted")
            _donate(world.member, charity.slug, 1, datetime(2024, 5, 1, 12, tzinfo=UTC))
            _donate(world.member, charity.slug, 1)

        # when: the operator reads every statement
        with CaptureQueriesContext(connection) as captured:
            reply = s.gql(s.PUBLIC_HOST, s.CHARITY_STATEMENTS_QUERY, {}, key)
        statements = reply.payload("charityStatements")
        counts.append(len(captured.captured_queries))
        assert sum(1 for st in statements if st["name"] == "Counted") == (2, 12)[round_number]

    # then: the statements did not grow with the charities
    assert counts[0] == counts[1]


def test_account_balances_agree_with_account_balance(db: None, partner_a: Partner) -> None:
    # given: two charity accounts, one with donations, and a member's wallet
    world = s.coalition_world(partner_a)
    quiet = charity_create(slug=s.unique("quiet"), name="Quiet")
    _donate(world.member, world.charity, 33)
    charity = Charity.objects.get(slug=world.charity)
    accounts = [charity.account_id, quiet.account_id, world.member.wallet.pk]

    # when / then: the batch read equals the one-by-one read
    assert ledger_selectors.account_balances(accounts) == {
        account: ledger_selectors.account_balance(account) for account in accounts
    }
    assert ledger_selectors.account_balances([]) == {}
