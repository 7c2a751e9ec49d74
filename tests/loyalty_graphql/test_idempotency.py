"""Idempotency over HTTP: every mutation repeated with the same ``idempotencyKey``
and the same arguments answers the same and posts once; the same key with other
arguments is IDEMPOTENCY_KEY_REUSED and posts nothing; keys belong to their
caller, so two partners (or two members) using "k1" never collide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from coalition.members.models import Member
from loyalty_graphql.auth import member_token_issue
from loyalty_kernel.tenancy import use_public_schema
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.rewards import services as rewards
from tests.testkit import api as s
from tests.testkit import in_partner


@dataclass(frozen=True)
class Case:
    """One mutation: where and as whom it is called, its first arguments and the
    same key's other arguments."""

    name: str
    host: str
    token: str
    document: str
    first: dict[str, Any]
    other: dict[str, Any]


Setup = Callable[[Partner], Case]


def _partner_case(name: str, document: str, first: Any, other: Any) -> Setup:
    def setup(partner: Partner) -> Case:
        world = s.partner_world(partner)
        return Case(name, s.HOST_A, s.partner_key(partner), document,
                    {"key": "same", **first(world)}, {"key": "same", **other(world)})  # fmt: skip

    return setup


def _second_payment(world: s.PartnerWorld) -> str:
    with in_partner(world.partner):
        view = rewards.points_payment_authorize(member_id=world.member.pk, amount=5)
    use_public_schema()
    return str(view.payment_id)


def _member_case(name: str, document: str, first: Any, other: Any) -> Setup:
    def setup(partner: Partner) -> Case:
        world = s.coalition_world(partner)
        return Case(name, s.PUBLIC_HOST, member_token_issue(world.member.pk), document,
                    {"key": "same", **first(world)}, {"key": "same", **other(world)})  # fmt: skip

    return setup


def _email(_world: Any) -> dict[str, Any]:
    return {"email": f"{s.unique('idem')}@example.com"}


CASES: dict[str, Setup] = {
    "enrolMember": _partner_case("enrolMember", s.ENROL, _email, _email),
    "recordPurchase": _partner_case(
        "recordPurchase", s.RECORD_PURCHASE,
        lambda w: {"receipt": s.receipt(w.member.member_number, "EUR", external_id="R-1")},
        lambda w: {"receipt": s.receipt(w.member.member_number, "EUR", external_id="R-2")},
    ),
    "returnPurchase": _partner_case(
        "returnPurchase", s.RETURN_PURCHASE,
        lambda w: {"externalId": w.purchase_id, "lines": [{"lineNumber": 1, "quantity": 1}]},
        lambda w: {"externalId": w.purchase_id, "lines": [{"lineNumber": 1, "quantity": 2}]},
    ),
    "redeemReward": _partner_case(
        "redeemReward", s.REDEEM_REWARD,
        lambda w: {"member": w.member.member_number, "reward": w.reward_code},
        lambda w: {"member": w.member.member_number, "reward": s.reward(w.partner, 11)},
    ),
    "authorizePointsPayment": _partner_case(
        "authorizePointsPayment", s.AUTHORIZE_PAYMENT,
        lambda w: {"member": w.member.member_number, "amount": 40},
        lambda w: {"member": w.member.member_number, "amount": 41},
    ),
    "capturePointsPayment": _partner_case(
        "capturePointsPayment", s.CAPTURE_PAYMENT,
        lambda w: {"payment": str(w.payment_id)},
        lambda w: {"payment": str(w.payment_id), "amount": 10},
    ),
    "voidPointsPayment": _partner_case(
        "voidPointsPayment", s.VOID_PAYMENT,
        lambda w: {"payment": str(w.payment_id)},
        lambda w: {"payment": _second_payment(w)},
    ),
    "transferPoints": _member_case(
        "transferPoints", s.TRANSFER_POINTS,
        lambda w: {"to": w.friend.member_number, "points": 100},
        lambda w: {"to": w.friend.member_number, "points": 101},
    ),
    "poolToHousehold": _member_case(
        "poolToHousehold", s.POOL_TO_HOUSEHOLD,
        lambda w: {"points": 100}, lambda w: {"points": 99},
    ),
    "donatePoints": _member_case(
        "donatePoints", s.DONATE_POINTS,
        lambda w: {"charity": w.charity, "points": 100},
        lambda w: {"charity": w.charity, "points": 50},
    ),
}  # fmt: skip


@pytest.mark.parametrize("operation", list(CASES))
def test_the_same_key_and_arguments_answer_the_same_and_post_once(
    db: None, partner_a: Partner, operation: str
) -> None:
    # given: a mutation ready to run
    case = CASES[operation](partner_a)
    before = s.books(partner_a)

    # when: it is sent twice with the same key (a client retrying after a timeout)
    first = s.gql(case.host, case.document, case.first, case.token).payload(case.name)
    after_first = s.books(partner_a)
    second = s.gql(case.host, case.document, case.first, case.token).payload(case.name)

    # then: it worked, the answers are identical, and the retry wrote nothing
    assert first["errors"] == [], first
    assert second == first
    assert after_first != before
    assert s.books(partner_a) == after_first


@pytest.mark.parametrize("operation", list(CASES))
def test_the_same_key_with_other_arguments_is_refused_and_posts_nothing(
    db: None, partner_a: Partner, operation: str
) -> None:
    # given: a mutation done once with key "same"
    case = CASES[operation](partner_a)
    done = s.gql(case.host, case.document, case.first, case.token).payload(case.name)
    assert done["errors"] == [], done
    before = s.books(partner_a)

    # when: the key comes back with different arguments
    reply = s.gql(case.host, case.document, case.other, case.token)

    # then: a typed error, and nothing posted or written
    assert reply.codes(case.name) == ["IDEMPOTENCY_KEY_REUSED"]
    assert s.books(partner_a) == before


def test_partners_using_the_same_key_do_not_collide(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: alpha and beta with rules, points payments and a member each
    alpha, beta = s.partner_world(partner_a), s.partner_world(partner_b)
    key_a, key_b = s.partner_key(partner_a), s.partner_key(partner_b)

    # when: both enrol, record a purchase and authorise a payment with key "k1"
    emails = [f"{s.unique('k1')}@example.com" for _ in range(2)]
    enrolled = [
        s.gql(host, s.ENROL, {"key": "k1", "email": email}, key).payload("enrolMember")
        for host, key, email in ((s.HOST_A, key_a, emails[0]), (s.HOST_B, key_b, emails[1]))
    ]
    bought = [
        s.gql(world.host, s.RECORD_PURCHASE, {"key": "k1", "receipt": s.receipt(
            world.member.member_number, world.partner.default_currency)}, key
        ).payload("recordPurchase")
        for world, key in ((alpha, key_a), (beta, key_b))
    ]  # fmt: skip
    paid = [
        s.gql(world.host, s.AUTHORIZE_PAYMENT, {"key": "k1", "member":
              world.member.member_number, "amount": 7}, key).payload("authorizePointsPayment")
        for world, key in ((alpha, key_a), (beta, key_b))
    ]  # fmt: skip

    # then: each is its own, done for real: two members, two purchases, two holds
    for payload in (*enrolled, *bought, *paid):
        assert payload["errors"] == [], payload
    assert [p["member"]["email"] for p in enrolled] == emails
    assert Member.objects.filter(email__in=emails).count() == 2
    for world, payload in zip((alpha, beta), bought, strict=True):
        with in_partner(world.partner):
            assert Purchase.objects.filter(external_id=payload["purchase"]["externalId"]).exists()
    use_public_schema()
    assert paid[0]["payment"]["amount"]["currency"] == "EUR"
    assert paid[1]["payment"]["amount"]["currency"] == "GBP"


def test_members_using_the_same_key_do_not_collide(db: None, partner_a: Partner) -> None:
    # given: two members with points and a friend to give them to
    world = s.coalition_world(partner_a)
    other = s.funded_member(partner_a, 500)

    # when: both transfer with key "k1"
    replies = [
        s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS, {"key": "k1", "to": world.friend.member_number,
              "points": points}, member_token_issue(member.pk)).payload("transferPoints")
        for member, points in ((world.member, 100), (other, 30))
    ]  # fmt: skip

    # then: two transfers, not a replay and not a refusal
    assert replies == [{"balanceAfter": 900, "errors": []}, {"balanceAfter": 470, "errors": []}]
    from coalition.ledger.selectors import balance

    assert balance(world.friend.pk) == 130


def test_the_same_key_for_another_operation_of_the_same_caller_is_refused(
    db: None, partner_a: Partner
) -> None:
    # given: a payment authorised with key "k1"
    world = s.partner_world(partner_a)
    key = s.partner_key(partner_a)
    authorized = s.gql(s.HOST_A, s.AUTHORIZE_PAYMENT, {"key": "k1", "member":
                       world.member.member_number, "amount": 9}, key)  # fmt: skip
    payment = authorized.payload("authorizePointsPayment")["payment"]["paymentId"]
    before = s.books(partner_a)

    # when: the client captures it reusing "k1"
    reply = s.gql(s.HOST_A, s.CAPTURE_PAYMENT, {"key": "k1", "payment": payment}, key)

    # then: the key names another request: refused, nothing captured
    assert reply.codes("capturePointsPayment") == ["IDEMPOTENCY_KEY_REUSED"]
    assert s.books(partner_a) == before


def test_issue_member_token_can_be_retried(db: None, partner_a: Partner) -> None:
    # given: a member
    member = s.enrol()
    key = s.partner_key(partner_a, ["members"])
    variables = {"key": "t1", "member": member.member_number}

    # when: the token request is retried with its key
    tokens = [
        s.gql(s.HOST_A, s.ISSUE_TOKEN, variables, key).payload("issueMemberToken")["token"]
        for _ in range(2)
    ]

    # then: both answers are valid tokens of that member (a token writes nothing)
    for token in tokens:
        me = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, token).payload("me")
        assert me["memberNumber"] == member.member_number


def test_consume_voucher_retried_with_its_key_answers_the_same(
    db: None, partner_a: Partner
) -> None:
    # given: a voucher consumed with key "c1"
    world = s.partner_world(partner_a)
    key = s.partner_key(partner_a)
    variables = {"key": "c1", "code": world.voucher_code}
    first = s.gql(s.HOST_A, s.CONSUME_VOUCHER, variables, key).payload("consumeVoucher")
    assert first["errors"] == []

    # when: the till retries with the same key
    second = s.gql(s.HOST_A, s.CONSUME_VOUCHER, variables, key).payload("consumeVoucher")

    # then: the same answer
    assert second == first


def test_close_period_retried_with_its_key_answers_the_same(db: None) -> None:
    # given: every partner covered by terms, an operator
    s.cover_every_partner_with_terms()
    key = s.operator_key()
    first = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close"}, key).payload("closePeriod")
    assert first["errors"] == []

    # when: the operator's script retries with the same key
    second = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close"}, key).payload("closePeriod")

    # then: the same period, not the next one
    assert second == first
