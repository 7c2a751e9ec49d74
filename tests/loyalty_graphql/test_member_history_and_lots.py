"""A member's history filtered by kind, partner and time, and the member's lots as a
connection, on a partner's host (``member``) and the coalition host (``me``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.members.models import Member
from loyalty_graphql.auth import member_token_issue
from tenants.partners.models import Partner
from tests.testkit import api as s


def _history(key: str, member: Member, **variables: Any) -> s.Reply:
    return s.gql(s.HOST_A, s.MEMBER_HISTORY_QUERY, {"number": member.member_number, **variables},
                 key)  # fmt: skip


def _nodes(reply: s.Reply) -> list[dict[str, Any]]:
    return [edge["node"] for edge in reply.payload("memberHistory")["history"]["edges"]]


def _mixed_history(partner_a: Partner, partner_b: Partner) -> Member:
    """Newest first: burn 15 at beta, earn 7 at beta, earn 20 at alpha, earn 10 at alpha."""
    member = s.enrol("filters")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=10, external_ref="A1")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=20, external_ref="A2")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=7, external_ref="B1")
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=15)
    return member


# --- history filters ----------------------------------------------------------------------


def test_history_filters_by_kind_partner_and_both(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: earns at alpha and beta and a burn at beta
    member = _mixed_history(partner_a, partner_b)
    key = s.partner_key(partner_a, ["read"])

    # when / then: unfiltered, everything, newest first, with the partner's slug
    everything = _nodes(_history(key, member))
    assert [(n["kind"], n["points"], n["partnerSlug"]) for n in everything] == [
        ("burn", -15, "beta"), ("earn", 7, "beta"), ("earn", 20, "alpha"), ("earn", 10, "alpha"),
    ]  # fmt: skip
    assert everything[0]["partner"] == partner_b.name
    # and: by kind
    assert [n["points"] for n in _nodes(_history(key, member, kind="EARN"))] == [7, 20, 10]
    assert [n["points"] for n in _nodes(_history(key, member, kind="BURN"))] == [-15]
    assert _nodes(_history(key, member, kind="DONATION")) == []
    # and: by partner slug, and both at once
    assert [n["points"] for n in _nodes(_history(key, member, partner="beta"))] == [-15, 7]
    both = _nodes(_history(key, member, partner="beta", kind="EARN"))
    assert [n["points"] for n in both] == [7]
    # and: a partner that does not exist matches nothing (not everything)
    assert _nodes(_history(key, member, partner="no-such-partner")) == []


def test_history_time_window_is_half_open(db: None, partner_a: Partner, partner_b: Partner) -> None:
    # given: four movements, all posted at this test transaction's start
    member = _mixed_history(partner_a, partner_b)
    at = s.transaction_start()
    later = at + timedelta(microseconds=1)
    key = s.partner_key(partner_a, ["read"])

    # when / then: occurredAfter is inclusive, occurredBefore exclusive
    assert len(_nodes(_history(key, member, occurredAfter=at.isoformat()))) == 4
    assert _nodes(_history(key, member, occurredAfter=later.isoformat())) == []
    assert _nodes(_history(key, member, occurredBefore=at.isoformat())) == []
    window = {"occurredAfter": at.isoformat(), "occurredBefore": later.isoformat()}
    assert len(_nodes(_history(key, member, **window))) == 4
    # and: combined with a kind
    assert [n["points"] for n in _nodes(_history(key, member, kind="BURN", **window))] == [-15]


def test_filtered_history_pages_with_cursors(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: seven earns alternating alpha and beta
    member = s.enrol("pages")
    for index in range(7):
        partner = (partner_a, partner_b)[index % 2]
        ledger.earn(member_id=member.pk, partner_id=partner.pk, points=index + 1)
    key = s.partner_key(partner_a, ["read"])

    # when: alpha's earns (4 of them), two at a time
    seen, after, pages = [], None, 0
    while True:
        page = _history(key, member, first=2, after=after, partner="alpha", kind="EARN")
        history = page.payload("memberHistory")["history"]
        seen += [edge["node"]["points"] for edge in history["edges"]]
        pages += 1
        assert history["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]

    # then: every filtered item exactly once, newest first, in two pages
    assert seen == [7, 5, 3, 1]
    assert pages == 2


@pytest.mark.parametrize(
    ("variables", "code"),
    [({"after": "not-a-cursor"}, "invalid_input"), ({"first": 0}, "invalid_input")],
    ids=["bad cursor", "first zero"],
)
def test_history_bad_paging_is_invalid_input(
    db: None, partner_a: Partner, variables: dict[str, Any], code: str
) -> None:
    member = s.funded_member(partner_a, 5)
    reply = _history(s.partner_key(partner_a, ["read"]), member, **variables)
    assert reply.graphql_codes == [code]


@pytest.mark.parametrize(
    ("variables", "words"),
    [({"kind": "GIFT"}, "LedgerTransactionKind"), ({"occurredAfter": "yesterday"}, "DateTime")],
    ids=["unknown kind", "bad date"],
)
def test_history_filter_values_are_checked_by_the_schema(
    db: None, partner_a: Partner, variables: dict[str, Any], words: str
) -> None:
    # given / when: a kind that is not in the enum, a date that is not ISO 8601
    member = s.funded_member(partner_a, 5)
    reply = _history(s.partner_key(partner_a, ["read"]), member, **variables)

    # then: refused before anything runs, naming the type
    assert reply.status == 400, reply.body
    assert any(words in message for message in reply.messages), reply.messages


def test_me_history_takes_the_same_filters(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: the member's own token
    member = _mixed_history(partner_a, partner_b)
    token = member_token_issue(member.pk)

    # when: the member's app asks for its earns at alpha
    me = s.gql(s.PUBLIC_HOST, s.ME_HISTORY_QUERY, {"kind": "EARN", "partner": "alpha"}, token)

    # then: only those, and the lots as a connection
    history = me.payload("meHistory")["history"]
    assert [edge["node"]["points"] for edge in history["edges"]] == [20, 10]
    lots = me.payload("meHistory")["lots"]["edges"]
    assert sum(edge["node"]["remaining"] for edge in lots) == 10 + 20 + 7 - 15


# --- lots ------------------------------------------------------------------------------------


def test_lots_page_in_spending_order_with_cursors(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: five lots, dated and undated, from two partners, and a spent one
    member = s.enrol("lots")
    now = timezone.now()
    plan = [(partner_a, 30, now + timedelta(days=30)), (partner_b, 40, None),
            (partner_a, 10, now + timedelta(days=10)), (partner_b, 50, None),
            (partner_a, 20, now + timedelta(days=20))]  # fmt: skip
    for partner, points, expires_at in plan:
        ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points,
                    expires_at=expires_at)  # fmt: skip
    spent = s.enrol("spent")
    ledger.earn(member_id=spent.pk, partner_id=partner_a.pk, points=5)
    ledger.burn(member_id=spent.pk, partner_id=partner_a.pk, points=5)
    key = s.partner_key(partner_a, ["read"])

    # when: alpha's app pages through them two at a time
    seen, after, has_next = [], None, True
    while has_next:
        variables = {"number": member.member_number, "first": 2, "after": after}
        reply = s.gql(s.HOST_A, s.MEMBER_LOTS_QUERY, variables, key)
        lots = reply.payload("memberLots")["lots"]
        seen += [(e["node"]["points"], e["node"]["issuer"]) for e in lots["edges"]]
        has_next = lots["pageInfo"]["hasNextPage"]
        after = lots["pageInfo"]["endCursor"]

    # then: soonest expiry first, undated last (oldest first), each lot once
    assert seen == [(10, partner_a.name), (20, partner_a.name), (30, partner_a.name),
                    (40, partner_b.name), (50, partner_b.name)]  # fmt: skip
    # and: a member whose only lot is spent has no lots
    empty = s.gql(s.HOST_A, s.MEMBER_LOTS_QUERY, {"number": spent.member_number}, key)
    assert empty.payload("memberLots")["lots"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None,
                     "endCursor": None},
    }  # fmt: skip


def test_lots_pages_stay_stable_while_points_are_spent(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: three lots, and the first page of one read
    member = s.enrol("stable")
    now = timezone.now()
    for days in (1, 2, 3):
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=10,
                    expires_at=now + timedelta(days=days))  # fmt: skip
    key = s.partner_key(partner_a, ["read"])
    variables = {"number": member.member_number, "first": 1}
    first = s.gql(s.HOST_A, s.MEMBER_LOTS_QUERY, variables, key).payload("memberLots")["lots"]

    # when: the first lot is spent before the next page is read
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=10)
    after = first["pageInfo"]["endCursor"]
    rest = s.gql(s.HOST_A, s.MEMBER_LOTS_QUERY, {**variables, "first": 5, "after": after}, key)

    # then: the next page starts after the spent lot, skipping nothing
    remaining = [e["node"]["expiresAt"] for e in rest.payload("memberLots")["lots"]["edges"]]
    assert len(remaining) == 2
    assert first["edges"][0]["node"]["expiresAt"] < remaining[0] < remaining[1]


@pytest.mark.parametrize("variables", [{"after": "%%%"}, {"first": -1}], ids=["cursor", "first"])
def test_lots_bad_paging_is_invalid_input(
    db: None, partner_a: Partner, variables: dict[str, Any]
) -> None:
    member = s.funded_member(partner_a, 5)
    reply = s.gql(s.HOST_A, s.MEMBER_LOTS_QUERY, {"number": member.member_number, **variables},
                  s.partner_key(partner_a, ["read"]))  # fmt: skip
    assert reply.graphql_codes == ["invalid_input"]
