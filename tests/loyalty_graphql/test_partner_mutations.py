"""Every mutation of the partner schema over HTTP with the partner's own key: the
happy path and each typed error in the payload's ``errors``; a refused mutation
posts nothing and writes nothing (``books`` before and after)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import Hold, Transaction
from coalition.members.models import Member
from coalition.members.services import member_enrol, member_erase, member_set_status
from loyalty_kernel.tenancy import use_public_schema
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPayment, PointsPaymentSettings, Voucher
from tests.testkit import api as s
from tests.testkit import in_partner
from tests.testkit.earning import publish


def _refused(
    partner: Partner, document: str, variables: dict[str, Any], name: str, *, host: str = s.HOST_A
) -> list[str]:
    """Call a mutation that must fail: return its error codes after checking it
    changed nothing and returned no result."""
    before = s.books(partner)
    reply = s.gql(host, document, variables, s.partner_key(partner))
    payload = reply.payload(name)
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    assert s.books(partner) == before
    return reply.codes(name)


# --- enrolMember ---------------------------------------------------------------------------


def test_enrol_member_with_only_an_email(db: None, partner_a: Partner) -> None:
    # given: an address nobody uses
    email = f"{s.unique('enrol')}@Example.COM"

    # when: alpha's app enrols it
    reply = s.gql(s.HOST_A, s.ENROL, {"key": "e1", "email": email}, s.partner_key(partner_a))

    # then: a member with an empty wallet, enrolled by alpha
    enrolled = reply.payload("enrolMember")
    assert enrolled["errors"] == []
    assert enrolled["member"]["balance"] == 0
    member = Member.objects.get(pk=int(enrolled["member"]["id"]))
    assert member.member_number == enrolled["member"]["memberNumber"]
    assert member.email == email.rsplit("@", 1)[0] + "@example.com"
    assert member.enrolled_by_id == partner_a.pk
    assert ledger_selectors.balance(member.pk) == 0


@pytest.mark.parametrize(
    ("case", "code"),
    [("bad email", "INVALID_MEMBER_DATA"), ("bad phone", "INVALID_MEMBER_DATA"),
     ("email taken", "EMAIL_TAKEN"), ("phone taken", "PHONE_TAKEN"),
     ("key too long", "INVALID_IDEMPOTENCY_KEY")],
)  # fmt: skip
def test_enrol_member_typed_errors(db: None, partner_a: Partner, case: str, code: str) -> None:
    # given: an existing member with an e-mail and a phone
    taken = member_enrol(email=f"{s.unique('taken')}@example.com", phone="+33612345678")
    variables = {"key": "e1", "email": f"{s.unique('new')}@example.com"}
    variables.update(
        {
            "bad email": {"email": "not an address"},
            "bad phone": {"phone": "call me"},
            "email taken": {"email": taken.email.upper()},
            "phone taken": {"phone": "+33 6 12 34 56 78"},
            "key too long": {"key": "k" * 121},
        }[case]
    )

    # when / then: the enrolment is refused with a typed error, nobody is enrolled
    assert _refused(partner_a, s.ENROL, variables, "enrolMember") == [code]


# --- recordPurchase --------------------------------------------------------------------------


def test_record_purchase_awards_points_with_the_rules_in_force(
    db: None, partner_a: Partner
) -> None:
    # given: one point per euro at alpha, and a member with 5 points
    s.publish_rules(partner_a)
    member = s.funded_member(partner_a, 5)
    basket = s.receipt(member.member_number, "EUR", [(2, 1000), (1, 550)])

    # when: the till records the 25.50 EUR receipt
    reply = s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": "p1", "receipt": basket},
                  s.partner_key(partner_a, ["earn"]))  # fmt: skip

    # then: 25 points, on top of the 5, posted once to the ledger by alpha
    payload = reply.payload("recordPurchase")
    assert payload["errors"] == []
    purchase = payload["purchase"]
    assert purchase["externalId"] == basket["externalId"]
    assert purchase["points"] == 25
    assert purchase["balanceAfter"] == 30
    assert purchase["ruleVersion"] is not None
    assert purchase["breakdown"] == {"points": 25, "rulePoints": 25, "campaignPoints": 0}
    assert ledger_selectors.balance(member.pk) == 30
    earn = Transaction.objects.get(external_ref=basket["externalId"])
    assert (earn.kind, earn.points, earn.partner_id) == ("earn", 25, partner_a.pk)
    with in_partner(partner_a):
        assert Purchase.objects.get(external_id=basket["externalId"]).points_awarded == 25


def _bad_receipt(case: str, member: Member, partner: Partner) -> dict[str, Any]:
    good = s.receipt(member.member_number, "EUR")
    if case == "UNKNOWN_MEMBER":
        return {**good, "memberNumber": "123"}
    if case == "UNSUPPORTED_CURRENCY":
        return {**good, "currency": "ZZZ"}
    if case == "INVALID_BASKET":
        return {**good, "lines": [{**good["lines"][0], "quantity": 0}]}
    if case == "INVALID_RECEIPT":
        return {**good, "storeCode": "NO-SUCH-STORE"}
    if case == "NO_RULES_IN_FORCE":
        return {**good, "occurredAt": "2001-01-01T00:00:00+00:00"}
    if case == "DUPLICATE_RECEIPT":
        with in_partner(partner):
            from tenants.purchases import services as purchases

            earlier = s.service_receipt(member, "EUR")
            purchases.purchase_record(earlier)
        use_public_schema()
        return {**good, "externalId": earlier.external_id}
    if case == "MEMBER_NOT_ACTIVE":
        member_set_status(member_id=member.pk, status="blocked")
        return good
    if case == "PARTNER_NOT_ACTIVE":
        Partner.objects.filter(pk=partner.pk).update(status="suspended")
        return good
    assert case == "INVALID_INPUT"
    return s.receipt(member.member_number, "EUR", [(1, 1)] * 501)


@pytest.mark.parametrize(
    "case",
    ["UNKNOWN_MEMBER", "UNSUPPORTED_CURRENCY", "INVALID_BASKET", "INVALID_RECEIPT",
     "NO_RULES_IN_FORCE", "DUPLICATE_RECEIPT", "MEMBER_NOT_ACTIVE", "PARTNER_NOT_ACTIVE",
     "INVALID_INPUT"],
)  # fmt: skip
def test_record_purchase_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: rules in force and a receipt with one thing wrong
    s.publish_rules(partner_a)
    basket = _bad_receipt(case, s.enrol(), partner_a)

    # when / then: nothing recorded, nothing posted, the error says why
    variables = {"key": "p1", "receipt": basket}
    assert _refused(partner_a, s.RECORD_PURCHASE, variables, "recordPurchase") == [case]


# --- returnPurchase --------------------------------------------------------------------------


def test_return_purchase_reverses_the_returned_share_of_points(
    db: None, partner_a: Partner
) -> None:
    # given: a recorded 100 EUR purchase of two lines (100 points)
    s.publish_rules(partner_a)
    member = s.enrol()
    key = s.partner_key(partner_a, ["earn"])
    basket = s.receipt(member.member_number, "EUR", [(4, 1500), (1, 4000)])
    s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": "p1", "receipt": basket}, key)
    assert ledger_selectors.balance(member.pk) == 100

    # when: one of the four 15 EUR items comes back
    reply = s.gql(s.HOST_A, s.RETURN_PURCHASE, {"key": "r1", "externalId": basket["externalId"],
                  "lines": [{"lineNumber": 1, "quantity": 1}]}, key)  # fmt: skip

    # then: its share (15 of 100) is taken back, no shortfall
    assert reply.payload("returnPurchase") == {"pointsReversed": 15, "shortfall": 0, "errors": []}
    assert ledger_selectors.balance(member.pk) == 85


def test_return_purchase_reverses_what_the_returned_item_earned(
    db: None, partner_a: Partner
) -> None:
    # given: 10 EUR of fresh at x2 (20 points) and 10 EUR of dry (10 points)
    now = timezone.now()
    with in_partner(partner_a):
        publish(
            [("base_rate", {"rates": {"EUR": "1"}}),
             ("category_multiplier", {"category": "fresh", "multiplier": "2"})],
            effective_from=now, now=now,
        )  # fmt: skip
    use_public_schema()
    member = s.enrol()
    key = s.partner_key(partner_a, ["earn"])
    basket = s.receipt(member.member_number, "EUR", [(1, 1000), (1, 1000)])
    basket["lines"][0]["category"] = "fresh"
    recorded = s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": "p1", "receipt": basket}, key)
    assert recorded.payload("recordPurchase")["purchase"]["points"] == 30

    # when: the fresh item comes back
    reply = s.gql(s.HOST_A, s.RETURN_PURCHASE, {"key": "r1", "externalId": basket["externalId"],
                  "lines": [{"lineNumber": 1, "quantity": 1}]}, key)  # fmt: skip

    # then: the 20 points it earned are taken back (by money share it was 15)
    assert reply.payload("returnPurchase") == {"pointsReversed": 20, "shortfall": 0, "errors": []}
    assert ledger_selectors.balance(member.pk) == 10


def test_return_of_points_already_spent_reports_a_shortfall(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a 50-point purchase whose points were then spent elsewhere
    s.publish_rules(partner_a)
    member = s.enrol()
    key = s.partner_key(partner_a, ["earn"])
    basket = s.receipt(member.member_number, "EUR", [(1, 5000)])
    s.gql(s.HOST_A, s.RECORD_PURCHASE, {"key": "p1", "receipt": basket}, key)
    from coalition.ledger import services as ledger

    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=40)

    # when: the whole purchase comes back
    reply = s.gql(s.HOST_A, s.RETURN_PURCHASE, {"key": "r1", "externalId": basket["externalId"],
                  "lines": [{"lineNumber": 1, "quantity": 1}]}, key)  # fmt: skip

    # then: what is left is taken back, the rest is a shortfall; never negative
    assert reply.payload("returnPurchase") == {"pointsReversed": 10, "shortfall": 40, "errors": []}
    assert ledger_selectors.balance(member.pk) == 0


@pytest.mark.parametrize(
    ("case", "code"),
    [("unknown purchase", "UNKNOWN_PURCHASE"), ("no such line", "INVALID_RETURN"),
     ("too many", "INVALID_RETURN"), ("zero", "INVALID_RETURN"), ("no lines", "INVALID_RETURN")],
)  # fmt: skip
def test_return_purchase_typed_errors(db: None, partner_a: Partner, case: str, code: str) -> None:
    # given: a recorded purchase of two items on one line
    world = s.partner_world(partner_a)
    external_id, lines = world.purchase_id, [{"lineNumber": 1, "quantity": 1}]
    if case == "unknown purchase":
        external_id = "NO-SUCH-RECEIPT"
    elif case == "no such line":
        lines = [{"lineNumber": 9, "quantity": 1}]
    elif case == "too many":
        lines = [{"lineNumber": 1, "quantity": 3}]
    elif case == "zero":
        lines = [{"lineNumber": 1, "quantity": 0}]
    elif case == "no lines":
        lines = []

    # when / then: refused, nothing reversed
    variables = {"key": "r1", "externalId": external_id, "lines": lines}
    assert _refused(partner_a, s.RETURN_PURCHASE, variables, "returnPurchase") == [code]


# --- redeemReward ------------------------------------------------------------------------


def test_redeem_reward_burns_its_points_and_issues_a_voucher(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a member with 100 points from beta and a 60-point reward at alpha (stock 2)
    member = s.funded_member(partner_b, 100)
    code = s.reward(partner_a, 60, stock=2)

    # when: alpha's app redeems it
    reply = s.gql(s.HOST_A, s.REDEEM_REWARD,
                  {"key": "x1", "member": member.member_number, "reward": code},
                  s.partner_key(partner_a, ["redeem"]))  # fmt: skip

    # then: a valid voucher, 60 points burnt at alpha, one less in stock
    payload = reply.payload("redeemReward")
    assert payload["errors"] == []
    voucher = payload["voucher"]
    assert (voucher["reward"], voucher["points"], voucher["status"]) == (code, 60, "issued")
    assert rewards.normalise_voucher_code(voucher["code"]) == voucher["code"]
    assert ledger_selectors.balance(member.pk) == 40
    burn = Transaction.objects.filter(member_id=member.pk, kind="burn").get()
    assert (burn.partner_id, burn.points) == (partner_a.pk, 60)
    with in_partner(partner_a):
        assert rewards.Reward.objects.get(code=code).stock == 1


def _redeem_case(case: str, partner: Partner) -> dict[str, Any]:
    member = s.funded_member(partner, 100)
    variables: dict[str, Any] = {"key": "x1", "member": member.member_number}
    if case == "UNKNOWN_MEMBER":
        return {**variables, "member": "000000000000", "reward": s.reward(partner, 10)}
    if case == "UNKNOWN_REWARD":
        return {**variables, "reward": "no-such-reward"}
    if case == "REWARD_UNAVAILABLE":
        return {**variables, "reward": s.reward(partner, 10, channels=["app"]), "channel": "pos"}
    if case == "OUT_OF_STOCK":
        return {**variables, "reward": s.reward(partner, 10, stock=0)}
    if case == "MEMBER_LIMIT_REACHED":
        code = s.reward(partner, 10, per_member_limit=1)
        with in_partner(partner):
            rewards.reward_redeem(member_id=member.pk, reward_code=code)
        use_public_schema()
        return {**variables, "reward": code}
    if case == "INSUFFICIENT_POINTS":
        return {**variables, "reward": s.reward(partner, 101)}
    assert case == "MEMBER_NOT_ACTIVE"
    member_set_status(member_id=member.pk, status="blocked")
    return {**variables, "reward": s.reward(partner, 10)}


@pytest.mark.parametrize(
    "case",
    ["UNKNOWN_MEMBER", "UNKNOWN_REWARD", "REWARD_UNAVAILABLE", "OUT_OF_STOCK",
     "MEMBER_LIMIT_REACHED", "INSUFFICIENT_POINTS", "MEMBER_NOT_ACTIVE"],
)  # fmt: skip
def test_redeem_reward_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: a redemption with one thing wrong
    variables = _redeem_case(case, partner_a)

    # when / then: refused, no voucher, nothing burnt, stock untouched
    assert _refused(partner_a, s.REDEEM_REWARD, variables, "redeemReward") == [case]


def test_a_reward_not_valid_yet_is_unavailable(db: None, partner_a: Partner) -> None:
    # given: a reward valid only from tomorrow
    member = s.funded_member(partner_a, 100)
    tomorrow = timezone.now() + timedelta(days=1)
    code = s.reward(partner_a, 10, valid_from=tomorrow)

    # when / then: it cannot be redeemed today
    variables = {"key": "x1", "member": member.member_number, "reward": code}
    codes = _refused(partner_a, s.REDEEM_REWARD, variables, "redeemReward")
    assert codes == ["REWARD_UNAVAILABLE"]


# --- consumeVoucher --------------------------------------------------------------------------


def test_consume_voucher_uses_it_once(db: None, partner_a: Partner) -> None:
    # given: an unused voucher
    world = s.partner_world(partner_a)
    key = s.partner_key(partner_a, ["redeem"])

    # when: the till consumes it
    reply = s.gql(s.HOST_A, s.CONSUME_VOUCHER, {"key": "c1", "code": world.voucher_code}, key)

    # then: consumed, and a second till cannot use it again
    payload = reply.payload("consumeVoucher")
    assert payload["errors"] == []
    assert payload["voucher"]["status"] == "consumed"
    with in_partner(partner_a):
        assert Voucher.objects.get(code=world.voucher_code).consumed_at is not None
    again = s.gql(s.HOST_A, s.CONSUME_VOUCHER, {"key": "c2", "code": world.voucher_code}, key)
    assert again.codes("consumeVoucher") == ["VOUCHER_ALREADY_USED"]


@pytest.mark.parametrize(
    "case", ["UNKNOWN_VOUCHER", "VOUCHER_ALREADY_USED", "VOUCHER_CANCELLED", "VOUCHER_EXPIRED"]
)
def test_consume_voucher_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: a voucher that cannot be used (or a code with a wrong check character)
    world = s.partner_world(partner_a)
    code = world.voucher_code
    with in_partner(partner_a):
        if case == "UNKNOWN_VOUCHER":
            code = code[:-1] + ("0" if code[-1] != "0" else "1")
        elif case == "VOUCHER_ALREADY_USED":
            rewards.voucher_consume(code=code)
        elif case == "VOUCHER_CANCELLED":
            rewards.voucher_cancel(code=code)
        else:
            Voucher.objects.filter(code=code).update(expires_at=timezone.now() - timedelta(1))
    use_public_schema()

    # when / then: refused, the voucher stays as it was
    variables = {"key": "c1", "code": code}
    assert _refused(partner_a, s.CONSUME_VOUCHER, variables, "consumeVoucher") == [case]


# --- points payments --------------------------------------------------------------------------


def test_authorize_then_capture_part_of_a_points_payment(db: None, partner_a: Partner) -> None:
    # given: a point pays 0.05 EUR at alpha; a member with 500 points
    s.payment_settings(partner_a, "5")
    member = s.funded_member(partner_a, 500)
    key = s.partner_key(partner_a, ["redeem"])

    # when: 12.00 EUR of a basket is to be paid with points
    variables = {"key": "a1", "member": member.member_number, "amount": 1200, "reference": "T7"}
    authorized = s.gql(s.HOST_A, s.AUTHORIZE_PAYMENT, variables, key)

    # then: 240 points are held, out of the wallet
    payment = authorized.payload("authorizePointsPayment")["payment"]
    assert payment["points"] == 240
    assert payment["amount"] == {"amount": "12.00", "currency": "EUR"}
    assert (payment["status"], payment["balanceAfter"]) == ("authorized", 260)
    hold = Hold.objects.get(member_id=member.pk)
    assert (hold.points, hold.status) == (240, "pending")

    # when: the basket shrank to 10.00 EUR before payment
    captured = s.gql(
        s.HOST_A,
        s.CAPTURE_PAYMENT,
        {"key": "c1", "payment": payment["paymentId"], "amount": 1000},
        key,
    )

    # then: 200 points are captured at alpha, 40 go back to the wallet
    done = captured.payload("capturePointsPayment")
    assert done["errors"] == []
    assert done["payment"]["points"] == 200
    assert done["payment"]["amount"] == {"amount": "10.00", "currency": "EUR"}
    assert (done["payment"]["status"], done["payment"]["balanceAfter"]) == ("captured", 300)
    assert ledger_selectors.balance(member.pk) == 300
    hold.refresh_from_db()
    assert (hold.status, hold.captured_points) == ("captured", 200)


def test_capture_without_amount_takes_the_whole_hold(db: None, partner_a: Partner) -> None:
    # given: an authorised 20-point payment
    world = s.partner_world(partner_a)

    # when: it is captured without an amount
    reply = s.gql(s.HOST_A, s.CAPTURE_PAYMENT, {"key": "c1", "payment": str(world.payment_id)},
                  s.partner_key(partner_a))  # fmt: skip

    # then: all 20 points
    payment = reply.payload("capturePointsPayment")["payment"]
    assert (payment["points"], payment["status"]) == (20, "captured")


def test_void_points_payment_gives_every_point_back(db: None, partner_a: Partner) -> None:
    # given: an authorised 20-point payment from a 1000-point wallet
    world = s.partner_world(partner_a)
    balance = ledger_selectors.balance(world.member.pk)

    # when: the till cancels it
    reply = s.gql(s.HOST_A, s.VOID_PAYMENT, {"key": "v1", "payment": str(world.payment_id)},
                  s.partner_key(partner_a, ["redeem"]))  # fmt: skip

    # then: voided, the 20 points are back
    payment = reply.payload("voidPointsPayment")["payment"]
    assert (payment["status"], payment["balanceAfter"]) == ("voided", balance + 20)
    assert ledger_selectors.balance(world.member.pk) == balance + 20
    with in_partner(partner_a):
        assert PointsPayment.objects.get(pk=world.payment_id).status == "voided"


def _authorize_case(case: str, partner: Partner) -> dict[str, Any]:
    member = s.funded_member(partner, 100)
    variables: dict[str, Any] = {"key": "a1", "member": member.member_number, "amount": 50}
    if case == "UNKNOWN_MEMBER":
        variables["member"] = "000000000000"
    elif case == "INVALID_AMOUNT":
        variables["amount"] = 0
    elif case == "POINTS_PAYMENTS_NOT_CONFIGURED":
        with in_partner(partner):
            PointsPaymentSettings.objects.all().delete()
        use_public_schema()
    elif case == "POINTS_BELOW_MINIMUM":
        s.payment_settings(partner, "1", minimum_points=60)
    elif case == "INSUFFICIENT_POINTS":
        variables["amount"] = 101
    else:
        assert case == "MEMBER_NOT_ACTIVE"
        member_erase(member_id=member.pk)
    return variables


@pytest.mark.parametrize(
    "case",
    ["UNKNOWN_MEMBER", "INVALID_AMOUNT", "POINTS_PAYMENTS_NOT_CONFIGURED", "POINTS_BELOW_MINIMUM",
     "INSUFFICIENT_POINTS", "MEMBER_NOT_ACTIVE"],
)  # fmt: skip
def test_authorize_points_payment_typed_errors(db: None, partner_a: Partner, case: str) -> None:
    # given: one point pays one cent; a payment with one thing wrong
    s.payment_settings(partner_a)
    variables = _authorize_case(case, partner_a)

    # when / then: nothing held
    codes = _refused(partner_a, s.AUTHORIZE_PAYMENT, variables, "authorizePointsPayment")
    assert codes == [case]


def _expire_hold(payment_id: int, partner: Partner) -> None:
    with in_partner(partner):
        hold_id = PointsPayment.objects.get(pk=payment_id).hold_id
    use_public_schema()
    Hold.objects.filter(pk=hold_id).update(expires_at=timezone.now() - timedelta(minutes=1))


def _resolved(world: s.PartnerWorld) -> None:
    with in_partner(world.partner):
        rewards.points_payment_void(payment_id=world.payment_id)
    use_public_schema()


@pytest.mark.parametrize(
    ("case", "code"),
    [("unknown payment", "UNKNOWN_PAYMENT"), ("more than authorised", "INVALID_AMOUNT"),
     ("already voided", "HOLD_ALREADY_RESOLVED"), ("expired", "HOLD_EXPIRED"),
     ("not an id", "INVALID_INPUT")],
)  # fmt: skip
def test_capture_points_payment_typed_errors(
    db: None, partner_a: Partner, case: str, code: str
) -> None:
    # given: an authorised 20-point (20 cent) payment, and something wrong
    world = s.partner_world(partner_a)
    variables: dict[str, Any] = {"key": "c1", "payment": str(world.payment_id)}
    if case == "unknown payment":
        variables["payment"] = str(world.payment_id + 10_000)
    elif case == "more than authorised":
        variables["amount"] = 21
    elif case == "already voided":
        _resolved(world)
    elif case == "expired":
        _expire_hold(world.payment_id, partner_a)
    else:
        variables["payment"] = "not-a-number"

    # when / then: nothing captured
    codes = _refused(partner_a, s.CAPTURE_PAYMENT, variables, "capturePointsPayment")
    assert codes == [code]


@pytest.mark.parametrize(
    ("case", "code"),
    [("unknown payment", "UNKNOWN_PAYMENT"), ("already voided", "HOLD_ALREADY_RESOLVED")],
)
def test_void_points_payment_typed_errors(
    db: None, partner_a: Partner, case: str, code: str
) -> None:
    # given: an authorised payment, unknown or already resolved
    world = s.partner_world(partner_a)
    payment = str(world.payment_id + 10_000) if case == "unknown payment" else str(world.payment_id)
    if case == "already voided":
        _resolved(world)

    # when / then: nothing released twice
    variables = {"key": "v1", "payment": payment}
    assert _refused(partner_a, s.VOID_PAYMENT, variables, "voidPointsPayment") == [code]


def test_a_payment_of_another_partner_cannot_be_captured_here(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: a payment authorised at beta; alpha takes points payments too
    betas = s.partner_world(partner_b)
    s.payment_settings(partner_a)
    before = s.books(partner_b)

    # when: alpha's till sends beta's payment id (ids are per partner: at alpha it
    # names alpha's payment of that id, if there is one)
    s.gql(s.HOST_A, s.CAPTURE_PAYMENT, {"key": "c1", "payment": str(betas.payment_id)},
          s.partner_key(partner_a))  # fmt: skip

    # then: beta's payment and its hold are untouched
    assert Hold.objects.get(member_id=betas.member.pk).status == "pending"
    after = s.books(partner_b)
    assert after["beta payments"] == before["beta payments"]


# --- issueMemberToken -----------------------------------------------------------------------


def test_issue_member_token_lets_the_member_act_on_the_coalition_host(
    db: None, partner_a: Partner
) -> None:
    # given: a member alpha's app has authenticated
    member = s.funded_member(partner_a, 42)

    # when: alpha issues the member a token
    reply = s.gql(s.HOST_A, s.ISSUE_TOKEN, {"key": "t1", "member": member.member_number},
                  s.partner_key(partner_a, ["members"]))  # fmt: skip
    token = reply.payload("issueMemberToken")["token"]

    # then: the member's own app sees the member on the coalition host with it
    me = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, token).payload("me")
    assert (me["memberNumber"], me["balance"]) == (member.member_number, 42)
    # and: it is no key for alpha's host
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, token).status == 403


@pytest.mark.parametrize("code", ["UNKNOWN_MEMBER", "MEMBER_NOT_ACTIVE"])
def test_issue_member_token_typed_errors(db: None, partner_a: Partner, code: str) -> None:
    # given: a number nobody has, or a blocked member
    member = s.enrol()
    number = "000000000000" if code == "UNKNOWN_MEMBER" else member.member_number
    if code == "MEMBER_NOT_ACTIVE":
        member_set_status(member_id=member.pk, status="blocked")

    # when / then: no token
    variables = {"key": "t1", "member": number}
    assert _refused(partner_a, s.ISSUE_TOKEN, variables, "issueMemberToken") == [code]
