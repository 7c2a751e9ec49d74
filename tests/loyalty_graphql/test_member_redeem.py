"""redeemCatalogueReward: a member app redeems any partner's reward with a member
token; the reward's partner honours the voucher and is reimbursed through
settlement. myVouchers lists the member's vouchers at every partner and
cancelMyVoucher gives an unused one back. Happy path, typed errors that change
nothing, and a member token that reaches only its own member. (Idempotency and the
caller matrix are in test_idempotency.py and test_permissions.py.)"""

from __future__ import annotations

from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger.models import Account
from coalition.ledger.selectors import account_balance, balance
from loyalty_graphql.auth import member_token_issue
from tenants.partners.models import Partner, PartnerStatus
from tenants.rewards import services as rewards
from tenants.rewards.models import Voucher
from tests.testkit import api as s
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db

NAME = "redeemCatalogueReward"


def _redeem(token: str, variables: dict[str, str], key: str | None = None) -> s.Reply:
    return s.gql(
        s.PUBLIC_HOST, s.REDEEM_CATALOGUE_REWARD, {"key": key or uuid4().hex, **variables}, token
    )


def _redeemed(partner: Partner) -> int:
    account = Account.objects.filter(partner=partner, kind="redemption").first()
    return account_balance(account.pk) if account else 0


def test_a_member_token_redeems_another_partners_reward(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given: points earned at alpha, a reward of beta in the catalogue
    member = s.funded_member(partner_a, 500, "member-app")
    reward = s.catalogue_reward("beta", 120, name="Lounge pass", stock=2)
    s.cover_every_partner_with_terms()
    redeemed_before = _redeemed(partner_b)

    # when: the member app redeems it with the member's token
    voucher = _redeem(member_token_issue(member.pk), reward).payload(NAME)

    # then: a voucher of beta for this member, points burnt to beta's redemption account
    assert voucher["errors"] == []
    assert voucher["voucher"]["partner"] == "beta"
    assert voucher["voucher"]["partnerName"] == partner_b.name
    assert voucher["voucher"]["rewardName"] == "Lounge pass"
    assert voucher["voucher"]["points"] == 120
    assert voucher["voucher"]["status"] == "issued"
    assert balance(member.pk) == 380
    assert _redeemed(partner_b) - redeemed_before == 120
    with in_partner(partner_b):
        assert Voucher.objects.get(code=voucher["voucher"]["code"]).member_id == member.pk


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("not enough points", "INSUFFICIENT_POINTS"),
        ("unknown reward", "UNKNOWN_REWARD"),
        ("unknown partner", "UNKNOWN_REWARD"),
        ("out of stock", "OUT_OF_STOCK"),
        ("till only", "REWARD_UNAVAILABLE"),
        ("partner suspended", "PARTNER_NOT_ACTIVE"),
    ],
)
def test_a_refused_redemption_is_typed_and_changes_nothing(
    case: str, code: str, partner_a: Partner, partner_b: Partner
) -> None:
    member = s.funded_member(partner_a, 100, "refused")
    variables = {
        "not enough points": lambda: s.catalogue_reward("beta", 101),
        "unknown reward": lambda: {"partner": "beta", "reward": "no-such-reward"},
        "unknown partner": lambda: {"partner": "no-such-partner", "reward": "x"},
        "out of stock": lambda: s.catalogue_reward("beta", 10, stock=0),
        "till only": lambda: s.catalogue_reward("beta", 10, channels=["pos"]),
        "partner suspended": lambda: s.catalogue_reward("beta", 10),
    }[case]()
    if case == "partner suspended":
        Partner.objects.filter(pk=partner_b.pk).update(status=PartnerStatus.SUSPENDED)
    before = s.books(partner_a, partner_b)
    try:
        reply = _redeem(member_token_issue(member.pk), variables)
        assert reply.codes(NAME) == [code], reply.body
        assert reply.payload(NAME)["voucher"] is None
        assert s.books(partner_a, partner_b) == before
        assert balance(member.pk) == 100
    finally:
        Partner.objects.filter(pk=partner_b.pk).update(status=PartnerStatus.ACTIVE)


def test_a_member_token_spends_only_its_own_members_points(partner_a: Partner) -> None:
    # given: two members; the token is the first one's
    mine = s.funded_member(partner_a, 200, "own")
    theirs = s.funded_member(partner_a, 200, "other")
    reward = s.catalogue_reward("alpha", 50)

    # when: it redeems
    voucher = _redeem(member_token_issue(mine.pk), reward).payload(NAME)["voucher"]

    # then: only its member paid and owns the voucher
    assert (balance(mine.pk), balance(theirs.pk)) == (150, 200)
    with in_partner(partner_a):
        assert Voucher.objects.get(code=voucher["code"]).member_id == mine.pk


def test_redeeming_costs_a_bounded_number_of_queries(partner_a: Partner) -> None:
    member = s.funded_member(partner_a, 500, "queries")
    reward = s.catalogue_reward("alpha", 10)
    token = member_token_issue(member.pk)
    with CaptureQueriesContext(connection) as queries:
        _redeem(token, reward).payload(NAME)
    assert len(queries) <= 27, [q["sql"][:120] for q in queries]


CANCEL = "cancelMyVoucher"


def _cancel(token: str, variables: dict[str, str], key: str | None = None) -> s.Reply:
    return s.gql(
        s.PUBLIC_HOST, s.CANCEL_MY_VOUCHER, {"key": key or uuid4().hex, **variables}, token
    )


def test_my_vouchers_lists_the_members_vouchers_at_every_partner_newest_first(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given: a member with a voucher of alpha, then one of beta; another member's voucher
    member = s.funded_member(partner_a, 500, "vouchers")
    other = s.funded_member(partner_a, 500, "someone-else")
    s.cover_every_partner_with_terms()
    first = s.member_voucher(member, "alpha")
    second = s.member_voucher(member, "beta")
    s.member_voucher(other, "alpha")

    # when: the member app asks for the member's vouchers
    reply = s.gql(s.PUBLIC_HOST, s.MY_VOUCHERS_QUERY, {"first": 10}, member_token_issue(member.pk))

    # then: both of theirs, newest first, each with its partner; nobody else's
    vouchers = reply.body["data"]["myVouchers"]
    assert [(v["partner"], v["code"]) for v in vouchers] == [
        ("beta", second["code"]),
        ("alpha", first["code"]),
    ]
    assert vouchers[0]["partnerName"] == partner_b.name
    assert {v["status"] for v in vouchers} == {"issued"}
    assert all(v["issuedAt"] and v["cancelledAt"] is None for v in vouchers)
    # and "first" bounds the list
    reply = s.gql(s.PUBLIC_HOST, s.MY_VOUCHERS_QUERY, {"first": 1}, member_token_issue(member.pk))
    assert [v["code"] for v in reply.body["data"]["myVouchers"]] == [second["code"]]


def test_a_member_cancels_their_unused_voucher_and_gets_the_points_back(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given: a member who spent 10 points on a voucher of beta
    member = s.funded_member(partner_a, 100, "cancel")
    s.cover_every_partner_with_terms()
    voucher = s.member_voucher(member, "beta", points_price=10)
    assert balance(member.pk) == 90
    redeemed_before = _redeemed(partner_b)

    # when: the member app cancels it
    answer = _cancel(member_token_issue(member.pk), voucher).payload(CANCEL)

    # then: the voucher is cancelled, the points are back, beta's redemption reversed
    assert answer["errors"] == []
    assert answer["voucher"]["status"] == "cancelled"
    assert answer["voucher"]["code"] == voucher["code"]
    assert balance(member.pk) == 100
    assert _redeemed(partner_b) - redeemed_before == -10


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("another member's voucher", "UNKNOWN_VOUCHER"),
        ("made-up code", "UNKNOWN_VOUCHER"),
        ("unknown partner", "UNKNOWN_VOUCHER"),
        ("already cancelled", "VOUCHER_CANCELLED"),
        ("already used", "VOUCHER_ALREADY_USED"),
    ],
)
def test_a_refused_cancellation_is_typed_and_changes_nothing(
    case: str, code: str, partner_a: Partner, partner_b: Partner
) -> None:
    member = s.funded_member(partner_a, 100, "refused-cancel")
    owner = s.funded_member(partner_a, 100, "voucher-owner")
    s.cover_every_partner_with_terms()
    mine = s.member_voucher(member, "beta")
    variables = {
        "another member's voucher": lambda: s.member_voucher(owner, "beta"),
        "made-up code": lambda: {"partner": "beta", "code": "NOSUCHVOUCHER"},
        "unknown partner": lambda: {"partner": "no-such-partner", "code": mine["code"]},
        "already cancelled": lambda: mine,
        "already used": lambda: mine,
    }[case]()
    token = member_token_issue(member.pk)
    if case == "already cancelled":
        assert _cancel(token, mine).payload(CANCEL)["errors"] == []
    if case == "already used":
        with in_partner(partner_b):
            rewards.voucher_consume(code=mine["code"])
    before = (s.books(partner_a, partner_b), balance(member.pk), balance(owner.pk))

    reply = _cancel(token, variables)

    assert reply.codes(CANCEL) == [code], reply.body
    assert reply.payload(CANCEL)["voucher"] is None
    assert (s.books(partner_a, partner_b), balance(member.pk), balance(owner.pk)) == before


def test_listing_and_cancelling_vouchers_cost_a_bounded_number_of_queries(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = s.funded_member(partner_a, 500, "voucher-queries")
    s.cover_every_partner_with_terms()
    vouchers = [s.member_voucher(member, slug) for slug in ("alpha", "beta", "alpha")]
    token = member_token_issue(member.pk)
    with CaptureQueriesContext(connection) as listing:
        s.gql(s.PUBLIC_HOST, s.MY_VOUCHERS_QUERY, {"first": 20}, token)
    with CaptureQueriesContext(connection) as cancelling:
        _cancel(token, vouchers[0]).payload(CANCEL)
    # the list is one statement over every partner's vouchers, whatever their number
    assert len(listing) <= 8, [q["sql"][:120] for q in listing]
    assert len(cancelling) <= 30, [q["sql"][:120] for q in cancelling]
