"""An earn behind a caller's gate (``earn_gated_statement``): one statement that
runs the caller's statement first and posts the points only if it returned a row
(a purchase's campaign budget take). Its one row says whether the gate passed,
then the earn's row."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from coalition.ledger import selectors, services
from coalition.members.services import member_set_status
from loyalty_kernel import driver_sql
from tenants.partners.models import Partner
from tests.testkit.concurrency import unique_member

# A gate of the test's own: a counter row it may raise up to its limit.
_COUNTER = """
CREATE TEMPORARY TABLE gate_counter (id int PRIMARY KEY, used bigint, cap bigint)
"""
_GATE = (
    "UPDATE gate_counter SET used = used + %(gate_points)s::bigint"
    " WHERE id = 1 AND used + %(gate_points)s::bigint <= cap RETURNING 1"
)


@pytest.fixture
def counter(db: None) -> None:
    # a rolled-back test may have removed the partner accounts this process remembers
    services.forget_known_accounts()
    with connection.cursor() as cursor:
        cursor.execute(_COUNTER)
        cursor.execute("INSERT INTO gate_counter VALUES (1, 0, 50)")


def _used() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT used FROM gate_counter WHERE id = 1")
        return int(cursor.fetchone()[0])


def _gated(member_id: int, partner: Partner, points: int, gate_points: int) -> Any:
    sql, params = services.earn_gated_statement(
        (_GATE, {"gate_points": gate_points}),
        member_id=member_id, partner_id=partner.pk, points=points, external_ref="gated",
    )  # fmt: skip
    return driver_sql.prepared(sql, params)


def test_an_open_gate_posts_the_points_in_the_same_statement(
    counter: None, partner_a: Partner
) -> None:
    member = unique_member("gated").pk
    row = _gated(member, partner_a, points=30, gate_points=20)
    assert row[0] is True
    posting = services.earn_posting(row[1:], 30)
    assert posting is not None
    assert posting.result["balance_after"] == 30
    assert selectors.balance(member) == 30
    assert _used() == 20


def test_a_closed_gate_posts_nothing(counter: None, partner_a: Partner) -> None:
    member = unique_member("gated").pk
    row = _gated(member, partner_a, points=80, gate_points=60)  # the cap is 50
    assert tuple(row) == (False, None, None, None)
    assert selectors.balance(member) == 0
    assert _used() == 0


def test_an_open_gate_and_a_refused_earn_answer_apart(counter: None, partner_a: Partner) -> None:
    # a blocked member: the gate passes (its caller then rolls back), nothing posts
    member = unique_member("gated").pk
    member_set_status(member_id=member, status="blocked")
    row = _gated(member, partner_a, points=10, gate_points=10)
    assert tuple(row) == (True, None, None, None)
    assert selectors.balance(member) == 0


def test_gate_parameters_must_not_clash_with_the_earn_s(partner_a: Partner, db: None) -> None:
    member = unique_member("gated").pk
    with pytest.raises(ValueError, match="points"):
        services.earn_gated_statement(
            ("UPDATE gate_counter SET used = %(points)s RETURNING 1", {"points": 1}),
            member_id=member, partner_id=partner_a.pk, points=5,
        )  # fmt: skip
