"""Operator settlement over GraphQL: closePeriod follows the calendar (PERIOD_NOT_DUE
unless forced with a reason), payOutPeriod reports each payout with typed Stripe
errors instead of failing the whole call, and the liability shows held points."""

from __future__ import annotations

from typing import Any

from coalition.ledger import services as ledger
from coalition.settlement.models import SettlementPeriod
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit.settlement import known_terms, running_stripe_fake


def _close(key: str, **variables: Any) -> dict[str, Any]:
    reply = s.gql(s.PUBLIC_HOST, s.CLOSE_PERIOD, {"key": key, **variables}, s.operator_key())
    payload: dict[str, Any] = reply.payload("closePeriod")
    return payload


def test_close_period_before_it_is_due_needs_force_and_a_reason(db: None) -> None:
    # given: an open period that opened now (monthly: due when the month ends)
    s.close_everything_before()
    period = SettlementPeriod.objects.get(status="open")

    # when: the operator closes it without force
    refused = _close("not-due", force=False)
    # then: PERIOD_NOT_DUE, and it stays open
    assert [e["code"] for e in refused["errors"]] == ["PERIOD_NOT_DUE"]
    assert refused["period"] is None
    # and: forced without a reason is refused too
    unexplained = _close("no-reason", force=True, reason="")
    assert [e["code"] for e in unexplained["errors"]] == ["CLOSE_REASON_MISSING"]
    period.refresh_from_db()
    assert period.status == "open"

    # when: forced with a reason
    closed = _close("forced", force=True, reason="merger of two partners")

    # then: it closes and says it was early, and why
    assert closed["errors"] == []
    assert closed["period"]["number"] == period.number
    assert (closed["period"]["closedEarly"], closed["period"]["closeReason"]) == (
        True, "merger of two partners",
    )  # fmt: skip


def test_pay_out_period_reports_a_refused_payout_as_a_typed_error(
    db: None, partner_a: Partner
) -> None:
    # given: a closed period where two partners are owed money, and Stripe refusing
    # one of them
    s.close_everything_before()
    refused, paid = (
        s.onboard(prefix="refusedpay", currency="EUR"),
        s.onboard(prefix="paidpay", currency="EUR"),
    )
    for partner in (refused, paid):
        known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5")
        Partner.objects.filter(pk=partner.pk).update(stripe_account_id=f"acct_{partner.slug}")
    member = s.funded_member(partner_a, 1000)
    ledger.burn(member_id=member.pk, partner_id=refused.pk, points=400)
    ledger.burn(member_id=member.pk, partner_id=paid.pk, points=200)
    number = _close("close")["period"]["number"]

    with running_stripe_fake() as fake:
        fake.state.refuse(
            "/v1/transfers", destination=f"acct_{refused.slug}",
            code="account_invalid", message="The destination account is closed.",
        )  # fmt: skip

        # when: the operator pays the period out
        reply = s.gql(s.PUBLIC_HOST, s.PAY_OUT_PERIOD, {"key": "pay", "number": number},
                      s.operator_key())  # fmt: skip

        # then: the call succeeds, and each payout says how it went
        payload = reply.payload("payOutPeriod")
        assert payload["errors"] == []
        by_recipient = {payout["recipient"]: payout for payout in payload["payouts"]}
        failed = by_recipient[refused.slug]
        assert failed["error"]["code"] == "STRIPE_ERROR"
        assert "destination account is closed" in failed["error"]["message"]
        assert (failed["stripeErrorCode"], failed["status"], failed["attempts"]) == (
            "account_invalid", "payout_error", 1,
        )  # fmt: skip
        assert failed["stripeObjectId"] == ""
        assert failed["retryAt"] is not None
        assert failed["net"] == {"amount": "-2.00", "currency": "EUR"}
        done = by_recipient[paid.slug]
        assert (done["error"], done["status"], done["recipientKind"]) == (
            None, "transfer_sent", "partner",
        )  # fmt: skip
        assert done["stripeObjectId"].startswith("tr_")
        assert payload["paid"] >= 1
        _assert_one_transfer_to(fake, paid)


def _assert_one_transfer_to(fake: FakeStripeServer, partner: Partner) -> None:
    transfers = [
        t for t in fake.state.created("transfers") if t["destination"].endswith(partner.slug)
    ]
    assert len(transfers) == 1


def test_liability_shows_points_in_pending_holds(db: None, partner_a: Partner) -> None:
    # given: the operator's liability, then a pending hold of 120 points
    query = "{ liability { heldPoints outstandingPoints lines { issuer heldPoints } } }"
    before = s.gql(s.PUBLIC_HOST, query, {}, s.operator_key()).payload("liability")
    member = s.funded_member(partner_a, 300)
    ledger.hold_authorize(member_id=member.pk, partner_id=partner_a.pk, points=120)

    # when: the operator reads it again
    after = s.gql(s.PUBLIC_HOST, query, {}, s.operator_key()).payload("liability")

    # then: the held points show, theirs and the issuer's, outside the outstanding
    assert int(after["heldPoints"]) == int(before["heldPoints"]) + 120
    assert int(after["outstandingPoints"]) == int(before["outstandingPoints"]) + 180
    line = next(line for line in after["lines"] if line["issuer"] == partner_a.slug)
    assert int(line["heldPoints"]) >= 120
