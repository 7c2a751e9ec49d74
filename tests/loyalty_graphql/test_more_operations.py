"""Behavioural awards, referrals, voucher cancellation and operator payouts over HTTP."""

from __future__ import annotations

from tenants.earning.models import BehaviourRule
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit import in_partner

AWARD = """mutation($key: String!, $member: String!, $event: String!, $ref: String) {
  awardBehaviour(idempotencyKey: $key, memberNumber: $member, event: $event, reference: $ref) {
    points errors { field code message } } }"""
REFER = """mutation($key: String!, $referrer: String!, $referee: String!) {
  recordReferral(idempotencyKey: $key, referrerNumber: $referrer, refereeNumber: $referee) {
    accepted reason referrerPoints refereePoints errors { field code message } } }"""
CANCEL = """mutation($key: String!, $code: String!) {
  cancelVoucher(idempotencyKey: $key, code: $code) {
    voucher { code status } errors { field code message } } }"""
PAY_OUT = """mutation($key: String!, $number: Int!) {
  payOutPeriod(idempotencyKey: $key, number: $number) { paid errors { field code message } } }"""


def test_award_behaviour_once_per_reference_and_within_the_allowance(
    db: None, partner_a: Partner
) -> None:
    # given a review rule allowing two awards, and a member
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="review", points=25, max_awards=2, period="lifetime")
    member = s.enrol("behaviour")
    key = s.partner_key(partner_a)
    variables = {"member": member.member_number, "event": "review", "ref": "review-1"}
    # when the same review is sent twice, then another, then a third
    first = s.gql(s.HOST_A, AWARD, {"key": "a1", **variables}, key).payload("awardBehaviour")
    again = s.gql(s.HOST_A, AWARD, {"key": "a1", **variables}, key).payload("awardBehaviour")
    second = s.gql(s.HOST_A, AWARD, {"key": "a2", **variables, "ref": "review-2"}, key).payload(
        "awardBehaviour"
    )
    third = s.gql(s.HOST_A, AWARD, {"key": "a3", **variables, "ref": "review-3"}, key)
    # then the same review earns once, the allowance caps the rest with a typed error
    assert (first["points"], again["points"], second["points"]) == (25, 25, 25)
    assert third.codes("awardBehaviour") == ["AWARD_LIMIT_REACHED"]
    balance = """query($n: String!) { member(lookup: {memberNumber: $n}) { balance } }"""
    reply = s.gql(s.HOST_A, balance, {"n": member.member_number}, key)
    assert reply.payload("member")["balance"] == 50
    # and an event the partner does not reward is a typed error
    none = s.gql(s.HOST_A, AWARD, {"key": "a4", **variables, "event": "newsletter"}, key)
    assert none.codes("awardBehaviour") == ["BEHAVIOUR_NOT_CONFIGURED"]


def test_referral_accepted_then_refused_with_its_reason(db: None, partner_a: Partner) -> None:
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="referral", points=100, referee_points=50, max_awards=5)
    referrer, referee = s.enrol("referrer"), s.enrol("referee")
    key = s.partner_key(partner_a)
    numbers = {"referrer": referrer.member_number, "referee": referee.member_number}
    accepted = s.gql(s.HOST_A, REFER, {"key": "r1", **numbers}, key).payload("recordReferral")
    assert (accepted["accepted"], accepted["referrerPoints"], accepted["refereePoints"]) == (
        True, 100, 50,
    )  # fmt: skip
    again = s.gql(s.HOST_A, REFER, {"key": "r2", **numbers}, key).payload("recordReferral")
    assert (again["accepted"], again["reason"]) == (False, "already_referred")
    unknown = s.gql(s.HOST_A, REFER, {"key": "r3", **numbers, "referee": "0000000000"}, key)
    assert unknown.codes("recordReferral") == ["UNKNOWN_MEMBER"]


def test_cancel_voucher_returns_the_points_and_refuses_twice(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    world = s.partner_world(partner_a)
    key = s.partner_key(partner_a)
    cancelled = s.gql(s.HOST_A, CANCEL, {"key": "c1", "code": world.voucher_code}, key)
    assert cancelled.payload("cancelVoucher")["voucher"]["status"] == "cancelled"
    twice = s.gql(s.HOST_A, CANCEL, {"key": "c2", "code": world.voucher_code}, key)
    assert twice.codes("cancelVoucher") == ["VOUCHER_CANCELLED"]
    # another partner's key cannot touch it
    other_key = s.partner_key(partner_b)
    other = s.gql(s.HOST_A, CANCEL, {"key": "c3", "code": world.voucher_code}, other_key)
    assert other.status == 403


def test_pay_out_period_is_for_the_operator_and_needs_a_closed_period(db: None) -> None:
    missing = s.gql(s.PUBLIC_HOST, PAY_OUT, {"key": "p1", "number": 999999}, s.operator_key())
    assert missing.codes("payOutPeriod") == ["SETTLEMENT_ERROR"]
    anonymous = s.gql(s.PUBLIC_HOST, PAY_OUT, {"key": "p2", "number": 1})
    assert anonymous.codes("payOutPeriod") == ["PERMISSION_DENIED"]
