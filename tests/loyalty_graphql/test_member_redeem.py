"""redeemCatalogueReward: a member app redeems any partner's reward with a member
token; the reward's partner honours the voucher and is reimbursed through
settlement. Happy path, typed errors that change nothing, and a member token that
reaches only its own member. (Idempotency and the caller matrix are in
test_idempotency.py and test_permissions.py.)"""

from __future__ import annotations

from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.ledger.models import Account
from coalition.ledger.selectors import account_balance, balance
from loyalty_graphql.auth import member_token_issue
from tenants.partners.models import Partner, PartnerStatus
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
