"""Every query of the partner schema over HTTP with the partner's own key: what it
answers, and each typed error it can give (``extensions.code``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.members.services import member_add_card, member_set_status
from loyalty_kernel.tenancy import use_public_schema
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import Voucher
from tenants.stores.services import store_create
from tests.testkit import api as s
from tests.testkit import in_partner
from tests.testkit.settlement import close_now

# --- member ------------------------------------------------------------------------------


def test_member_is_found_by_number_email_or_card_with_balance_lots_and_history(
    db: None, partner_a: Partner
) -> None:
    # given: a member with a card and 120 points from alpha
    member = s.funded_member(partner_a, 120)
    member_add_card(member_id=member.pk, card_number=s.unique("card").replace("-", ""))
    card = member.cards.get().card_number
    key = s.partner_key(partner_a, ["read"])

    for lookup in ({"memberNumber": member.member_number}, {"email": member.email.upper()},
                   {"cardNumber": card}):  # fmt: skip
        # when: alpha's app looks the member up
        found = s.gql(s.HOST_A, s.MEMBER_QUERY, {"lookup": lookup}, key).payload("member")

        # then: one member, one balance, one lot issued by alpha, one earn in the history
        assert found["memberNumber"] == member.member_number
        assert found["id"] == str(member.pk)
        assert found["balance"] == 120
        lots = [edge["node"] for edge in found["lots"]["edges"]]
        assert lots == [{"issuer": partner_a.name, "points": 120, "remaining": 120}]
        edges = found["history"]["edges"]
        assert [e["node"]["kind"] for e in edges] == ["earn"]
        assert edges[0]["node"]["points"] == 120
        assert edges[0]["node"]["partner"] == partner_a.name


def test_member_lookup_of_nobody_is_null(db: None, partner_a: Partner) -> None:
    # given / when: a lookup that matches nobody
    reply = s.gql(s.HOST_A, s.MEMBER_QUERY, {"lookup": {"email": "nobody@example.com"}},
                  s.partner_key(partner_a, ["read"]))  # fmt: skip

    # then: no member, no error
    assert reply.payload("member") is None


def test_member_lookup_without_any_identifier_is_invalid_input(
    db: None, partner_a: Partner
) -> None:
    # when: the lookup names neither an e-mail, a number nor a card
    reply = s.gql(s.HOST_A, s.MEMBER_QUERY, {"lookup": {}}, s.partner_key(partner_a, ["read"]))

    # then: a typed error
    assert reply.status == 200
    assert reply.graphql_codes == ["invalid_input"]
    assert reply.body["data"]["member"] is None


# --- purchasePreview -----------------------------------------------------------------------


def test_purchase_preview_prices_a_basket_and_posts_nothing(db: None, partner_a: Partner) -> None:
    # given: one point per euro at alpha, and a member
    s.publish_rules(partner_a)
    member = s.enrol()
    before = s.books(partner_a)

    # when: the till previews a 37.50 EUR basket
    basket = s.receipt(member.member_number, "EUR", [(3, 1250)])
    reply = s.gql(s.HOST_A, s.PREVIEW_QUERY, {"receipt": basket}, s.partner_key(partner_a))

    # then: 37 points, explained, and nothing was recorded or posted
    preview = reply.payload("purchasePreview")
    assert preview["points"] == 37
    assert preview["rulePoints"] == 37
    assert preview["campaignPoints"] == 0
    assert preview["contributions"]
    assert s.books(partner_a) == before


def _preview_case(case: str, partner: Partner) -> dict[str, object]:
    member = s.enrol()
    number = member.member_number
    if case == "unknown_member":
        return s.receipt("9" * 12, "EUR")
    if case == "unsupported_currency":
        return s.receipt(number, "XXX")
    if case == "invalid_basket":
        return {**s.receipt(number, "EUR"), "total": 1}
    if case == "invalid_receipt":
        future = (timezone.now() + timedelta(hours=1)).isoformat()
        return {**s.receipt(number, "EUR"), "occurredAt": future}
    if case == "no_rules_in_force":
        return {**s.receipt(number, "EUR"), "occurredAt": "2001-01-01T00:00:00+00:00"}
    if case == "member_not_active":
        member_set_status(member_id=member.pk, status="blocked")
        return s.receipt(number, "EUR")
    assert case == "invalid_input"
    return s.receipt(number, "EUR", [(1, 1)] * 501)


@pytest.mark.parametrize(
    "case",
    ["unknown_member", "unsupported_currency", "invalid_basket", "invalid_receipt",
     "no_rules_in_force", "member_not_active", "invalid_input"],
)  # fmt: skip
def test_purchase_preview_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: rules in force at alpha and a receipt with one thing wrong
    s.publish_rules(partner_a)
    basket = _preview_case(case, partner_a)

    # when: the till previews it
    reply = s.gql(s.HOST_A, s.PREVIEW_QUERY, {"receipt": basket}, s.partner_key(partner_a))

    # then: the error says what was wrong
    assert reply.status == 200
    assert reply.graphql_codes == [case]
    assert reply.body["data"]["purchasePreview"] is None


# --- rewards -------------------------------------------------------------------------------


def test_rewards_lists_active_rewards_cheapest_first_with_stock(
    db: None, partner_a: Partner
) -> None:
    # given: a reward in stock, one sold out and one withdrawn
    in_stock = s.reward(partner_a, 7, stock=3)
    sold_out = s.reward(partner_a, 5, stock=0)
    withdrawn = s.reward(partner_a, 6, is_active=False)

    # when: the app lists alpha's rewards
    listed = s.gql(s.HOST_A, s.REWARDS_QUERY, None, s.partner_key(partner_a, ["read"]))
    rows = {r["code"]: r for r in listed.payload("rewards")}

    # then: active ones only, with their stock state, by price
    assert rows[in_stock] == {"code": in_stock, "name": in_stock, "pointsPrice": 7,
                              "inStock": True}  # fmt: skip
    assert rows[sold_out]["inStock"] is False
    assert withdrawn not in rows
    prices = [r["pointsPrice"] for r in listed.payload("rewards")]
    assert prices == sorted(prices)


def test_rewards_of_another_partner_are_not_listed(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a reward at beta
    betas = s.reward(partner_b, 8)

    # when: alpha lists its rewards
    listed = s.gql(s.HOST_A, s.REWARDS_QUERY, None, s.partner_key(partner_a, ["read"]))

    # then: beta's reward is not among them
    assert betas not in {r["code"] for r in listed.payload("rewards")}


# --- voucher -------------------------------------------------------------------------------


def test_voucher_query_validates_an_unused_voucher(db: None, partner_a: Partner) -> None:
    # given: a voucher issued at alpha
    world = s.partner_world(partner_a)

    # when: the till checks it, typed loosely (lower case, with a dash)
    code = world.voucher_code.lower()
    reply = s.gql(s.HOST_A, s.VOUCHER_QUERY, {"code": f"{code[:4]}-{code[4:]}"},
                  s.partner_key(partner_a, ["redeem"]))  # fmt: skip

    # then: it is the voucher, still issued
    assert reply.payload("voucher") == {
        "code": world.voucher_code, "reward": world.reward_code, "points": 10, "status": "issued"
    }  # fmt: skip


def _spoil_voucher(case: str, code: str) -> None:
    if case == "voucher_already_used":
        rewards.voucher_consume(code=code)
    elif case == "voucher_cancelled":
        rewards.voucher_cancel(code=code)
    elif case == "voucher_expired":
        Voucher.objects.filter(code=code).update(expires_at=timezone.now() - timedelta(days=1))


@pytest.mark.parametrize(
    "case", ["unknown_voucher", "voucher_already_used", "voucher_cancelled", "voucher_expired"]
)
def test_voucher_query_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: a voucher used, cancelled or expired (or a code nobody issued)
    world = s.partner_world(partner_a)
    with in_partner(partner_a):
        _spoil_voucher(case, world.voucher_code)
        code = world.voucher_code if case != "unknown_voucher" else rewards.new_voucher_code()
    use_public_schema()

    # when: the till checks it
    reply = s.gql(s.HOST_A, s.VOUCHER_QUERY, {"code": code}, s.partner_key(partner_a))

    # then: why it cannot be used
    assert reply.graphql_codes == [case]
    assert reply.body["data"]["voucher"] is None


def test_a_voucher_of_another_partner_is_unknown_here(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a voucher issued at beta
    betas = s.partner_world(partner_b)

    # when: alpha's till checks it
    reply = s.gql(s.HOST_A, s.VOUCHER_QUERY, {"code": betas.voucher_code},
                  s.partner_key(partner_a))  # fmt: skip

    # then: alpha does not know it
    assert reply.graphql_codes == ["unknown_voucher"]


# --- statements and livePosition -----------------------------------------------------------


def test_statements_list_the_partners_closed_periods_newest_first(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: alpha issued 300 points in one period and 50 in the next
    s.close_everything_before()
    member = s.enrol()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=300)
    first = close_now()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=50)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=20)
    second = close_now()
    key = s.partner_key(partner_a, ["settlement"])

    # when: alpha reads its last two statements
    listed = s.gql(s.HOST_A, s.STATEMENTS_QUERY, {"last": 2}, key).payload("statements")

    # then: newest first, alpha's own figures only (beta's redemption is not here)
    assert [st["period"] for st in listed] == [second.number, first.number]
    assert [(line["kind"], line["points"]) for line in listed[0]["lines"]] == [("issued", 50)]
    assert [(line["kind"], line["points"]) for line in listed[1]["lines"]] == [("issued", 300)]
    assert listed[0]["net"]["currency"] == "EUR"
    assert listed[0]["lines"][0]["transactions"] == 1
    # and: last=1 gives only the newest
    newest = s.gql(s.HOST_A, s.STATEMENTS_QUERY, {"last": 1}, key).payload("statements")
    assert [st["period"] for st in newest] == [second.number]


def test_statements_last_must_not_be_negative(db: None, partner_a: Partner) -> None:
    # when: a negative page size
    reply = s.gql(s.HOST_A, s.STATEMENTS_QUERY, {"last": -1}, s.partner_key(partner_a))

    # then: a typed error, not an internal one
    assert reply.graphql_codes == ["invalid_input"]


def test_live_position_shows_the_open_period_so_far(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a closed past, then alpha issues 200 points and honours 40
    s.close_everything_before()
    member = s.funded_member(partner_b, 100)
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=200)
    ledger.burn(member_id=member.pk, partner_id=partner_a.pk, points=40)
    # when: alpha reads its live position
    reply = s.gql(s.HOST_A, s.LIVE_POSITION_QUERY, None, s.partner_key(partner_a, ["settlement"]))
    live = reply.payload("livePosition")

    # then: no period number yet, alpha's lines only, and the net adds up
    assert live["period"] is None
    lines = {line["kind"]: line["points"] for line in live["lines"]}
    assert lines == {"issued": 200, "redeemed": 40}
    total = sum(Decimal(line["amount"]["amount"]) for line in live["lines"])
    assert Decimal(live["net"]["amount"]) == total


def test_live_position_with_events_but_no_terms_is_terms_missing(
    db: None, partner_a: Partner
) -> None:
    # given: a new partner with no settlement terms issues points in the open period
    s.close_everything_before()
    newcomer = s.onboard(prefix="noterms", currency="EUR")
    member = s.enrol()
    ledger.earn(member_id=member.pk, partner_id=newcomer.pk, points=10)

    # when: it reads its live position
    reply = s.gql(s.host_of(newcomer), s.LIVE_POSITION_QUERY, None, s.partner_key(newcomer))

    # then: a typed error that says terms are missing
    assert reply.graphql_codes == ["terms_missing"]


# --- partner and stores ---------------------------------------------------------------------


def test_partner_describes_the_host_partner(db: None, partner_a: Partner) -> None:
    # when: alpha's app asks who it talks to
    reply = s.gql(s.HOST_A, s.PARTNER_FULL_QUERY, None, s.partner_key(partner_a, ["read"]))

    # then: alpha
    assert reply.payload("partner") == {
        "name": partner_a.name, "slug": "alpha", "status": "active",
        "defaultCurrency": "EUR", "timeZone": partner_a.time_zone,
    }  # fmt: skip


def test_stores_lists_this_partners_stores_only(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a store at alpha and one at beta
    with in_partner(partner_a):
        store_create(code="ALPHA-1", name="Alpha Main", city="Lyon")
    with in_partner(partner_b):
        store_create(code="BETA-1", name="Beta Desk", channel="online")
    use_public_schema()

    # when: alpha lists its stores
    stores = s.gql(s.HOST_A, s.STORES_QUERY, None, s.partner_key(partner_a)).payload("stores")

    # then: alpha's store, not beta's
    codes = {store["code"] for store in stores}
    assert "ALPHA-1" in codes
    assert "BETA-1" not in codes
    alpha_main = next(store for store in stores if store["code"] == "ALPHA-1")
    assert alpha_main == {"code": "ALPHA-1", "name": "Alpha Main", "channel": "pos",
                          "timeZone": "UTC", "city": "Lyon", "isActive": True}  # fmt: skip


def test_live_position_is_not_blocked_by_another_partners_missing_terms(
    db: None, partner_a: Partner
) -> None:
    # given: alpha issues points; a newcomer without terms does too
    s.close_everything_before()
    newcomer = s.onboard(prefix="other", currency="EUR")
    member = s.enrol()
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=30)
    ledger.earn(member_id=member.pk, partner_id=newcomer.pk, points=10)

    # when: alpha reads its live position
    reply = s.gql(s.HOST_A, s.LIVE_POSITION_QUERY, None, s.partner_key(partner_a))

    # then: alpha's figures, whatever the newcomer's terms
    lines = reply.payload("livePosition")["lines"]
    assert [(line["kind"], line["points"]) for line in lines] == [("issued", 30)]
