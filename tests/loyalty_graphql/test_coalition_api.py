"""Every operation of the coalition schema (the public host) over HTTP: partners,
the member's own view, the coalition catalogue, the operator's liability and
periods, and the member's and operator's mutations with each typed error; a
refused mutation changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from coalition.charity.models import Charity, Donation
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.members.services import member_set_status
from coalition.settlement import services as settlement
from coalition.settlement.models import SettlementPeriod, Statement
from coalition.transfers.models import TransferCap, TransferRecord
from loyalty_graphql.auth import member_token_issue
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit.settlement import close_now, period_with_netting


def _refused_for_member(
    token: str, document: str, variables: dict[str, Any], name: str, *partners: Partner
) -> list[str]:
    before = s.books(*partners)
    reply = s.gql(s.PUBLIC_HOST, document, variables, token)
    payload = reply.payload(name)
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    assert s.books(*partners) == before
    return reply.codes(name)


# --- partners ---------------------------------------------------------------------------------


def test_partners_lists_the_active_partners_to_anyone(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a partner that is suspended
    gone = s.onboard(prefix="gone", currency="EUR")
    Partner.objects.filter(pk=gone.pk).update(status="suspended")

    # when: anyone asks who takes part
    listed = s.gql(s.PUBLIC_HOST, s.PARTNERS_QUERY).payload("partners")

    # then: the active ones, with their currency
    by_slug = {p["slug"]: p for p in listed}
    assert by_slug["alpha"] == {"slug": "alpha", "name": partner_a.name,
                                "defaultCurrency": "EUR", "status": "active"}  # fmt: skip
    assert by_slug["beta"]["defaultCurrency"] == "GBP"
    assert gone.slug not in by_slug


# --- me -----------------------------------------------------------------------------------------


def test_me_is_the_member_of_the_token(db: None, partner_a: Partner, partner_b: Partner) -> None:
    # given: a member with points from two partners
    member = s.funded_member(partner_a, 30)
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=12)

    # when: the member's app asks with the member's token
    me = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, member_token_issue(member.pk)).payload("me")

    # then: one wallet across brands
    assert (me["memberNumber"], me["email"], me["balance"]) == (member.member_number,
                                                                member.email, 42)  # fmt: skip
    lots = [edge["node"] for edge in me["lots"]["edges"]]
    assert sorted((lot["issuer"], lot["points"]) for lot in lots) == sorted(
        [(partner_a.name, 30), (partner_b.name, 12)]
    )
    assert [e["node"]["points"] for e in me["history"]["edges"]] == [12, 30]


def test_me_of_a_token_whose_member_is_gone_is_null(db: None) -> None:
    # given / when: a validly signed token for a member id that does not exist
    reply = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, member_token_issue(2**40))

    # then: nobody
    assert reply.payload("me") is None


# --- catalogue ----------------------------------------------------------------------------------


def _catalogue(**variables: Any) -> dict[str, Any]:
    reply = s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, variables)
    result: dict[str, Any] = reply.payload("catalogue")
    return result


def _codes(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["code"] for edge in page["edges"]]


def test_catalogue_lists_every_partners_available_rewards_cheapest_first(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: rewards at alpha and beta (one sold out, one withdrawn) named with a tag
    tag = s.unique("tag")
    cheap = s.reward(partner_b, 5, name=f"{tag} coffee")
    mid = s.reward(partner_a, 20, name=f"{tag} basket")
    dear = s.reward(partner_b, 90, name=f"{tag} lounge")
    s.reward(partner_a, 1, name=f"{tag} sold out", stock=0)
    s.reward(partner_a, 2, name=f"{tag} withdrawn", is_active=False)

    # when: anyone browses them
    page = _catalogue(first=10, search=tag)

    # then: the available ones, by price, with their partner
    assert _codes(page) == [cheap, mid, dear]
    assert [e["node"]["partner"] for e in page["edges"]] == ["beta", "alpha", "beta"]
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False,
                                "endCursor": page["edges"][-1]["cursor"]}  # fmt: skip
    # and: filters by partner and by price
    assert _codes(_catalogue(search=tag, partner="beta")) == [cheap, dear]
    assert _codes(_catalogue(search=tag, maxPoints=20)) == [cheap, mid]


def test_catalogue_filters_by_category_in_any_case(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: travel rewards at two partners, a food one and one with no category
    tag = s.unique("cat")
    lounge = s.reward(partner_b, 90, name=f"{tag} lounge", category="Travel")
    bag = s.reward(partner_a, 20, name=f"{tag} bag", category="travel")
    s.reward(partner_a, 5, name=f"{tag} coffee", category="food")
    s.reward(partner_a, 7, name=f"{tag} pen")

    # when: a member app asks for one category, written another way
    page = _catalogue(search=tag, category=" TRAVEL ")

    # then: that category's rewards at every partner, each saying its category
    assert _codes(page) == [bag, lounge]
    assert [e["node"]["category"] for e in page["edges"]] == ["travel", "Travel"]
    # and: a category nobody uses is an empty page, not an error; none is every reward
    assert _codes(_catalogue(search=tag, category="spa")) == []
    assert len(_catalogue(search=tag)["edges"]) == 4


def test_catalogue_pages_with_cursors(db: None, partner_a: Partner) -> None:
    # given: five tagged rewards
    tag = s.unique("page")
    codes = [s.reward(partner_a, price, name=f"{tag} {price}") for price in (3, 3, 4, 8, 9)]

    # when: they are read two at a time
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = _catalogue(first=2, search=tag, after=after)
        seen += _codes(page)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break

    # then: every reward once, in order (equal prices in id order)
    assert seen == codes
    assert page["pageInfo"]["hasPreviousPage"] is True


def test_catalogue_of_a_partner_that_does_not_exist_is_empty(db: None, partner_a: Partner) -> None:
    # given: a reward at alpha
    tag = s.unique("nobody")
    s.reward(partner_a, 5, name=f"{tag} mug")

    # when: the catalogue is filtered by a partner slug nobody has
    page = _catalogue(search=tag, partner="no-such-partner")

    # then: nothing (not every partner's rewards)
    assert page["edges"] == []
    assert page["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("variables", [{"after": "not a cursor"}, {"first": 0}])
def test_catalogue_bad_paging_is_invalid_input(db: None, variables: dict[str, Any]) -> None:
    # when: a cursor that is not one, or a page of nothing
    reply = s.gql(s.PUBLIC_HOST, s.CATALOGUE_QUERY, variables)

    # then: a typed error
    assert reply.graphql_codes == ["invalid_input"]


# --- liability and periods (operator) -----------------------------------------------------


def test_liability_reports_outstanding_points_like_the_settlement_report(
    db: None, partner_a: Partner
) -> None:
    # given: the operator's report before and after 400 new points from alpha
    key = s.operator_key()
    before = s.gql(s.PUBLIC_HOST, s.LIABILITY_QUERY, None, key).payload("liability")
    s.funded_member(partner_a, 400)

    # when: the operator reads it again
    after = s.gql(s.PUBLIC_HOST, s.LIABILITY_QUERY, None, key).payload("liability")

    # then: 400 more outstanding, alpha's line too, and the same figures as the service
    assert after["outstandingPoints"] == before["outstandingPoints"] + 400
    alpha_before = {ln["issuer"]: ln["outstandingPoints"] for ln in before["lines"]}.get("alpha", 0)
    alpha_after = {ln["issuer"]: ln["outstandingPoints"] for ln in after["lines"]}["alpha"]
    assert alpha_after == alpha_before + 400
    report = settlement.liability_report()
    assert after["outstandingPoints"] == report.outstanding_points
    assert after["expiredPoints"] == report.expired_points
    assert after["redeemedPoints"] == report.redeemed_points
    assert Decimal(after["breakageRate"]) == report.breakage_rate


GOODWILL_LIABILITY_QUERY = """{ liability { outstandingPoints goodwillPoints goodwillHeldPoints
  lines { issuer outstandingPoints } } }"""


def test_coalition_goodwill_is_in_the_liability_totals_and_in_no_issuers_line(db: None) -> None:
    # given: the operator's report before and after 250 points of coalition goodwill
    key = s.operator_key()
    before = s.gql(s.PUBLIC_HOST, GOODWILL_LIABILITY_QUERY, None, key).payload("liability")
    ledger.goodwill_credit(member_id=s.enrol().pk, points=250)

    # when: the operator reads it again
    after = s.gql(s.PUBLIC_HOST, GOODWILL_LIABILITY_QUERY, None, key).payload("liability")

    # then: 250 more outstanding and as goodwill, and the issuers' lines are unchanged
    assert after["outstandingPoints"] == before["outstandingPoints"] + 250
    assert after["goodwillPoints"] == before["goodwillPoints"] + 250
    assert after["goodwillHeldPoints"] == before["goodwillHeldPoints"]
    assert after["lines"] == before["lines"]


def test_periods_list_the_settlement_periods_newest_first(db: None, partner_a: Partner) -> None:
    # given: alpha's price from the instant this test's transaction started (its
    # events carry that time; terms must be set before the close that ends the past)
    settlement.terms_set(partner=partner_a, effective_from=s.transaction_start(),
                         issuance_price=Decimal("1.5"), reimbursement_rate=Decimal(1))  # fmt: skip
    first = s.close_everything_before()
    # and: a period closed with 70 points issued by alpha
    ledger.earn(member_id=s.enrol().pk, partner_id=partner_a.pk, points=70)
    closed = close_now()

    # when: the operator lists the last three periods
    key = s.operator_key()
    periods = s.gql(s.PUBLIC_HOST, s.PERIODS_QUERY, {"last": 3}, key).payload("periods")

    # then: the open one, the one just closed, the one before
    assert [(p["number"], p["status"]) for p in periods] == [
        (closed.number + 1, "open"), (closed.number, "closed"), (first.number, "closed"),
    ]  # fmt: skip
    assert periods[1]["startWatermark"] == first.end_watermark
    assert periods[1]["endWatermark"] == closed.end_watermark
    assert periods[0]["endWatermark"] is None
    assert {"amount": "1.05", "currency": "EUR"} in periods[1]["coalitionMargin"]


def test_netting_lists_a_periods_obligations_and_transfers(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a closed period in which alpha's points were spent at beta (600 x 0.5)
    period = period_with_netting(partner_a, partner_b)
    key = s.operator_key()

    # when: finance tooling reads the period's netting
    netting = s.gql(s.PUBLIC_HOST, s.NETTING_QUERY, {"period": period.number}, key).payload(
        "netting"
    )

    # then: alpha owes beta for the 600 points, settled by one transfer
    currency = partner_b.default_currency
    assert (netting["period"], netting["status"]) == (period.number, "closed")
    assert netting["obligations"] == [
        {"debtor": partner_a.slug, "creditor": partner_b.slug, "points": 600,
         "amount": {"amount": "3.00", "currency": currency}}
    ]  # fmt: skip
    assert netting["transfers"] == [
        {"payer": partner_a.slug, "payee": partner_b.slug,
         "amount": {"amount": "3.00", "currency": currency}}
    ]  # fmt: skip
    # and the open period has none yet
    following = s.gql(s.PUBLIC_HOST, s.NETTING_QUERY, {"period": period.number + 1}, key)
    assert following.payload("netting")["status"] == "open"
    assert following.payload("netting")["obligations"] == []


def test_netting_of_an_unknown_period_is_a_typed_error(db: None) -> None:
    # given / when: the operator asks for a period that does not exist
    reply = s.gql(s.PUBLIC_HOST, s.NETTING_QUERY, {"period": 999_999}, s.operator_key())

    # then: a typed error, no data
    assert reply.graphql_codes == ["settlement_period_unknown"]
    assert (reply.body.get("data") or {}).get("netting") is None


def test_netting_is_refused_to_partner_keys_and_members(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a closed period with netting
    period = period_with_netting(partner_a, partner_b)

    # when: a partner's key calls the coalition host, and a member token does
    by_partner = s.gql(
        s.PUBLIC_HOST, s.NETTING_QUERY, {"period": period.number}, s.partner_key(partner_a)
    )
    member = s.enrol("netting")
    by_member = s.gql(
        s.PUBLIC_HOST, s.NETTING_QUERY, {"period": period.number}, member_token_issue(member.pk)
    )

    # then: the partner key is refused by the host, the member by the field
    assert by_partner.status == 403
    assert by_member.graphql_codes == ["permission_denied"]


# --- transferPoints -------------------------------------------------------------------------


def test_transfer_points_to_another_member(db: None, partner_a: Partner) -> None:
    # given: a member with 1000 points and a friend
    world = s.coalition_world(partner_a)

    # when: the member gives the friend 250
    reply = s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS,
                  {"key": "t1", "to": world.friend.member_number, "points": 250},
                  member_token_issue(world.member.pk))  # fmt: skip

    # then: 750 left, the friend has 250, and the transfer is on record
    assert reply.payload("transferPoints") == {"balanceAfter": 750, "errors": []}
    assert ledger_selectors.balance(world.friend.pk) == 250
    record = TransferRecord.objects.get(from_member_id=world.member.pk)
    assert (record.to_member_id, record.points, record.kind) == (world.friend.pk, 250, "transfer")


@pytest.mark.parametrize(
    "code",
    ["UNKNOWN_MEMBER", "TRANSFER_TO_SELF", "INSUFFICIENT_POINTS", "AMOUNT_NOT_POSITIVE",
     "TRANSFER_CAP_EXCEEDED", "MEMBER_NOT_ACTIVE"],
)  # fmt: skip
def test_transfer_points_typed_errors(db: None, partner_a: Partner, code: str) -> None:
    # given: a transfer with one thing wrong
    world = s.coalition_world(partner_a)
    variables: dict[str, Any] = {"key": "t1", "to": world.friend.member_number, "points": 10}
    if code == "UNKNOWN_MEMBER":
        variables["to"] = "000000000000"
    elif code == "TRANSFER_TO_SELF":
        variables["to"] = world.member.member_number
    elif code == "INSUFFICIENT_POINTS":
        variables["points"] = 1001
    elif code == "AMOUNT_NOT_POSITIVE":
        variables["points"] = 0
    elif code == "TRANSFER_CAP_EXCEEDED":
        TransferCap.objects.create(kind="transfer", tier_code="", yearly_points=9)
    else:
        member_set_status(member_id=world.friend.pk, status="blocked")

    # when / then: refused, nothing moved
    token = member_token_issue(world.member.pk)
    assert _refused_for_member(token, s.TRANSFER_POINTS, variables, "transferPoints") == [code]


# --- poolToHousehold ---------------------------------------------------------------------------


def test_pool_to_household_moves_points_to_the_head(db: None, partner_a: Partner) -> None:
    # given: a member (1000 points) in a household whose head is the friend
    world = s.coalition_world(partner_a)

    # when: the member pools 300
    reply = s.gql(s.PUBLIC_HOST, s.POOL_TO_HOUSEHOLD, {"key": "h1", "points": 300},
                  member_token_issue(world.member.pk))  # fmt: skip

    # then: the head's wallet holds them
    assert reply.payload("poolToHousehold") == {"points": 300, "errors": []}
    assert ledger_selectors.balance(world.friend.pk) == 300
    assert ledger_selectors.balance(world.member.pk) == 700
    assert TransferRecord.objects.get(from_member_id=world.member.pk).kind == "household"


@pytest.mark.parametrize(
    "code",
    ["NOT_IN_HOUSEHOLD", "HOUSEHOLD_ERROR", "INSUFFICIENT_POINTS", "AMOUNT_NOT_POSITIVE",
     "TRANSFER_CAP_EXCEEDED"],
)  # fmt: skip
def test_pool_to_household_typed_errors(db: None, partner_a: Partner, code: str) -> None:
    # given: pooling with one thing wrong
    world = s.coalition_world(partner_a)
    member, points = world.member, 10
    if code == "NOT_IN_HOUSEHOLD":
        member = s.funded_member(partner_a, 100)
    elif code == "HOUSEHOLD_ERROR":
        member = world.friend  # the head: its wallet is the pool
    elif code == "INSUFFICIENT_POINTS":
        points = 1001
    elif code == "AMOUNT_NOT_POSITIVE":
        points = -5
    else:
        TransferCap.objects.create(kind="household", tier_code="", yearly_points=5)

    # when / then: refused, nothing moved
    variables = {"key": "h1", "points": points}
    token = member_token_issue(member.pk)
    codes = _refused_for_member(token, s.POOL_TO_HOUSEHOLD, variables, "poolToHousehold")
    assert codes == [code]


# --- donatePoints ------------------------------------------------------------------------------


def test_donate_points_to_a_charity(db: None, partner_a: Partner) -> None:
    # given: a member with 1000 points and an active charity
    world = s.coalition_world(partner_a)

    # when: the member donates 125
    reply = s.gql(s.PUBLIC_HOST, s.DONATE_POINTS,
                  {"key": "d1", "charity": world.charity, "points": 125},
                  member_token_issue(world.member.pk))  # fmt: skip

    # then: the charity's account holds them, and the donation is on record
    assert reply.payload("donatePoints") == {"points": 125, "errors": []}
    charity = Charity.objects.get(slug=world.charity)
    assert ledger_selectors.account_balance(charity.account_id) == 125
    assert Donation.objects.get(member_id=world.member.pk).points == 125
    assert ledger_selectors.balance(world.member.pk) == 875


@pytest.mark.parametrize(
    "code", ["UNKNOWN_CHARITY", "CHARITY_NOT_ACTIVE", "INSUFFICIENT_POINTS", "AMOUNT_NOT_POSITIVE"]
)
def test_donate_points_typed_errors(db: None, partner_a: Partner, code: str) -> None:
    # given: a donation with one thing wrong
    world = s.coalition_world(partner_a)
    variables: dict[str, Any] = {"key": "d1", "charity": world.charity, "points": 10}
    if code == "UNKNOWN_CHARITY":
        variables["charity"] = "no-such-charity"
    elif code == "CHARITY_NOT_ACTIVE":
        Charity.objects.filter(slug=world.charity).update(is_active=False)
    elif code == "INSUFFICIENT_POINTS":
        variables["points"] = 1001
    else:
        variables["points"] = 0

    # when / then: refused, nothing given
    token = member_token_issue(world.member.pk)
    assert _refused_for_member(token, s.DONATE_POINTS, variables, "donatePoints") == [code]


# --- closePeriod ------------------------------------------------------------------------------


def test_close_period_closes_at_the_ledger_watermark_and_writes_statements(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a closed past, then 500 points issued by alpha and 200 honoured by beta
    earlier = s.close_everything_before()
    member = s.funded_member(partner_a, 500)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=200)
    watermark = s.last_transaction_id()

    # when: the operator closes the period
    reply = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close-1"}, s.operator_key())

    # then: the next period, closed exactly at the journal's end, with both statements
    payload = reply.payload("closePeriod")
    assert payload["errors"] == []
    period = payload["period"]
    assert period["number"] == earlier.number + 1
    assert period["status"] == "closed"
    assert (period["startWatermark"], period["endWatermark"]) == (earlier.end_watermark,
                                                                  watermark)  # fmt: skip
    closed = SettlementPeriod.objects.get(number=period["number"])
    partners = set(Statement.objects.filter(period=closed).values_list("partner_id", flat=True))
    assert {partner_a.pk, partner_b.pk} <= partners
    assert SettlementPeriod.objects.get(number=period["number"] + 1).status == "open"


def test_close_period_with_events_but_no_terms_is_terms_missing(
    db: None, partner_a: Partner
) -> None:
    # given: a partner without settlement terms issued points in the open period
    s.close_everything_before()
    newcomer = s.onboard(prefix="unpriced", currency="EUR")
    ledger.earn(member_id=s.enrol().pk, partner_id=newcomer.pk, points=10)
    watermark = s.last_transaction_id()
    statements = Statement.objects.count()
    key = s.operator_key()

    # when: the operator tries to close
    reply = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close-1"}, key)

    # then: refused with a typed error and no statement; the period keeps the
    # watermark it was closing at (so later events go to the next period)
    payload = reply.payload("closePeriod")
    assert [e["code"] for e in payload["errors"]] == ["TERMS_MISSING"]
    assert payload["period"] is None
    assert Statement.objects.count() == statements
    stuck = SettlementPeriod.objects.get(status="closing")
    assert stuck.end_watermark == watermark

    # when: terms are added and the operator closes again
    s.cover_every_partner_with_terms()
    again = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": "close-2"}, key).payload("closePeriod")

    # then: that same period closes, at that same watermark
    assert again["errors"] == []
    assert (again["period"]["number"], again["period"]["endWatermark"]) == (stuck.number,
                                                                            watermark)  # fmt: skip
