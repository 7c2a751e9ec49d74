"""The permission matrix of every operation of both schemas, over HTTP.

Partner host: the partner's own key with the operation's scope may act; another
partner's key, a member token and an operator key are refused with HTTP 403
before anything runs; an anonymous caller and the own key missing the scope get
a typed PERMISSION_DENIED (in the payload of a mutation, as a GraphQL error with
``extensions.code`` for a query). Coalition host: member operations take a member
token, operator operations an operator key, and any partner key is a 403.
Whatever is refused, nothing changes (``books``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tenants.partners.models import Partner
from tests.loyalty_graphql_api import _support as s

Variables = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    scope: str | None  # None: open to anyone who reaches the host
    mutation: bool
    variables: Variables

    def __str__(self) -> str:
        return self.name


def _none(_world: Any) -> dict[str, Any]:
    return {}


PARTNER_OPERATIONS = (
    Operation("member", s.MEMBER_QUERY, "read", False,
              lambda w: {"lookup": {"memberNumber": w.member.member_number}}),
    Operation("purchasePreview", s.PREVIEW_QUERY, "earn", False,
              lambda w: {"receipt": s.receipt(w.member.member_number, "EUR")}),
    Operation("rewards", s.REWARDS_QUERY, "read", False, _none),
    Operation("voucher", s.VOUCHER_QUERY, "redeem", False, lambda w: {"code": w.voucher_code}),
    Operation("statements", s.STATEMENTS_QUERY, "settlement", False, _none),
    Operation("livePosition", s.LIVE_POSITION_QUERY, "settlement", False, _none),
    Operation("partner", s.PARTNER_QUERY, None, False, _none),
    Operation("stores", s.STORES_QUERY, None, False, _none),
    Operation("enrolMember", s.ENROL, "members", True,
              lambda w: {"key": "m1", "email": f"{s.unique('matrix')}@example.com"}),
    Operation("recordPurchase", s.RECORD_PURCHASE, "earn", True,
              lambda w: {"key": "m1", "receipt": s.receipt(w.member.member_number, "EUR")}),
    Operation("returnPurchase", s.RETURN_PURCHASE, "earn", True,
              lambda w: {"key": "m1", "externalId": w.purchase_id,
                         "lines": [{"lineNumber": 1, "quantity": 1}]}),
    Operation("redeemReward", s.REDEEM_REWARD, "redeem", True,
              lambda w: {"key": "m1", "member": w.member.member_number,
                         "reward": w.reward_code}),
    Operation("consumeVoucher", s.CONSUME_VOUCHER, "redeem", True,
              lambda w: {"key": "m1", "code": w.voucher_code}),
    Operation("authorizePointsPayment", s.AUTHORIZE_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "member": w.member.member_number, "amount": 30}),
    Operation("capturePointsPayment", s.CAPTURE_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "payment": str(w.payment_id)}),
    Operation("voidPointsPayment", s.VOID_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "payment": str(w.payment_id)}),
    Operation("issueMemberToken", s.ISSUE_TOKEN, "members", True,
              lambda w: {"key": "m1", "member": w.member.member_number}),
)  # fmt: skip

MEMBER_ONLY, OPERATOR_ONLY = "member", "operator"
COALITION_OPERATIONS = (
    Operation("partners", s.PARTNERS_QUERY, None, False, _none),
    Operation("catalogue", s.CATALOGUE_QUERY, None, False, lambda w: {"first": 5}),
    Operation("me", s.ME_QUERY, MEMBER_ONLY, False, _none),
    Operation("liability", s.LIABILITY_QUERY, OPERATOR_ONLY, False, _none),
    Operation("periods", s.PERIODS_QUERY, OPERATOR_ONLY, False, _none),
    Operation("transferPoints", s.TRANSFER_POINTS, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "to": w.friend.member_number, "points": 10}),
    Operation("poolToHousehold", s.POOL_TO_HOUSEHOLD, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "points": 10}),
    Operation("donatePoints", s.DONATE_POINTS, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "charity": w.charity, "points": 10}),
    Operation("closePeriod", s.CLOSE_PERIOD, OPERATOR_ONLY, True, lambda w: {"key": "m1"}),
)  # fmt: skip


def _assert_allowed(reply: s.Reply, operation: Operation) -> None:
    assert reply.status == 200, reply.body
    assert "errors" not in reply.body, reply.body
    result = reply.body["data"][operation.name]
    assert result is not None
    if operation.mutation:
        assert result["errors"] == [], result


def _assert_denied_in_graphql(reply: s.Reply, operation: Operation) -> None:
    assert reply.status == 200, reply.body
    if operation.mutation:
        payload = reply.body["data"][operation.name]
        assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
        assert all(v is None for k, v in payload.items() if k != "errors"), payload
    else:
        assert reply.graphql_codes == ["permission_denied"], reply.body
        assert (reply.body.get("data") or {}).get(operation.name) is None


def _assert_forbidden_by_host(reply: s.Reply) -> None:
    assert reply.status == 403, reply.body
    assert reply.graphql_codes == ["permission_denied"]
    assert "data" not in reply.body


@pytest.mark.parametrize("caller", s.PARTNER_HOST_CALLERS)
@pytest.mark.parametrize("operation", PARTNER_OPERATIONS, ids=str)
def test_partner_host_permission_matrix(
    db: None, partner_a: Partner, partner_b: Partner, operation: Operation, caller: str
) -> None:
    # given: alpha ready for every operation, and the caller's credential
    s.cover_every_partner_with_terms()  # the live position values every open event
    world = s.partner_world(partner_a)
    token = s.caller_token(
        caller, own=partner_a, other=partner_b, scope=operation.scope, member=world.member
    )
    before = s.books(partner_a, partner_b)

    # when: the caller calls the operation on alpha's host
    reply = s.gql(s.HOST_A, operation.document, operation.variables(world), token)

    # then: only the own key with the scope (or anyone, for open operations) acts
    if caller in {s.OTHER_PARTNER, s.MEMBER_TOKEN, s.OPERATOR}:
        _assert_forbidden_by_host(reply)
    elif caller == s.OWN_KEY or operation.scope is None:
        _assert_allowed(reply, operation)
        return
    else:
        _assert_denied_in_graphql(reply, operation)
    # and: a refused call changed nothing
    assert s.books(partner_a, partner_b) == before


@pytest.mark.parametrize("caller", s.COALITION_HOST_CALLERS)
@pytest.mark.parametrize("operation", COALITION_OPERATIONS, ids=str)
def test_coalition_host_permission_matrix(
    db: None, partner_a: Partner, partner_b: Partner, operation: Operation, caller: str
) -> None:
    # given: members, a household and a charity; the caller's credential
    world = s.coalition_world(partner_a)
    token = s.caller_token(caller, own=partner_a, other=partner_b, scope=None, member=world.member)
    before = s.books(partner_a, partner_b)

    # when: the caller calls the operation on the coalition host
    reply = s.gql(s.PUBLIC_HOST, operation.document, operation.variables(world), token)

    # then: partner keys never act here; members and the operator only on their own
    allowed = {None: {s.MEMBER_TOKEN, s.OPERATOR, s.ANONYMOUS},
               MEMBER_ONLY: {s.MEMBER_TOKEN}, OPERATOR_ONLY: {s.OPERATOR}}  # fmt: skip
    if caller == s.PARTNER_KEY:
        _assert_forbidden_by_host(reply)
    elif caller in allowed[operation.scope]:
        _assert_allowed(reply, operation)
        return
    else:
        _assert_denied_in_graphql(reply, operation)
    assert s.books(partner_a, partner_b) == before


def test_an_operator_key_always_carries_the_operator_scope(db: None) -> None:
    # given / when / then: a key without a partner must be an operator key, so an
    # "operator key missing its scope" cannot exist (the matrix needs no such row)
    from loyalty_graphql.auth import InvalidScopes, api_key_create

    with pytest.raises(InvalidScopes):
        api_key_create(name="no scope", scopes=["read"], partner=None)
