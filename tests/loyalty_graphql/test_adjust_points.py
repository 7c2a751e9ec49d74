"""adjustPoints over HTTP with the partner's own key (scope ``adjust``): a credit
and a debit, each typed refusal (nothing posted, nothing written), the idempotency
key (the same answer again; another request with it refused), another partner's
member adjusted only by its own partner's host, and a statement count that does not
grow with the member's lots. The permission matrix row is in ``test_permissions``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.adjustments.models import Adjustment
from coalition.adjustments.selectors import cap_today
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from tenants.partners.models import Partner
from tests.testkit import api as s

pytestmark = pytest.mark.django_db


def _vars(
    member: Any, points: int, reason: str = "parcel delivered late", key: str = ""
) -> dict[str, Any]:
    return {
        "key": key or s.unique("adjust"),
        "member": member.member_number if hasattr(member, "member_number") else member,
        "points": points,
        "reason": reason,
    }


def _refused(partner: Partner, variables: dict[str, Any]) -> list[str]:
    before = s.books(partner)
    reply = s.gql(s.HOST_A, s.ADJUST_POINTS, variables, s.partner_key(partner, ["adjust"]))
    payload = reply.payload("adjustPoints")
    assert payload["adjustment"] is None, payload
    assert s.books(partner) == before
    return reply.codes("adjustPoints")


def test_a_credit_and_a_debit(partner_a: Partner) -> None:
    member = s.funded_member(partner_a, 100, prefix="api-adjust")
    key = s.partner_key(partner_a, ["adjust"])
    added = s.gql(s.HOST_A, s.ADJUST_POINTS, _vars(member, 40), key).payload("adjustPoints")
    assert added["errors"] == []
    adjustment = added["adjustment"]
    assert adjustment["memberNumber"] == member.member_number
    assert (adjustment["points"], adjustment["balanceAfter"]) == (40, 140)
    assert adjustment["reason"] == "parcel delivered late"
    assert adjustment["capLeftToday"] == cap_today(partner_a).left
    tx = Transaction.objects.get(pk=int(adjustment["transactionId"]))
    assert (tx.kind, tx.partner_id, tx.points) == ("adjustment_credit", partner_a.pk, 40)

    taken = s.gql(s.HOST_A, s.ADJUST_POINTS, _vars(member, -25, "points given twice"), key)
    payload = taken.payload("adjustPoints")
    assert payload["errors"] == []
    assert (payload["adjustment"]["points"], payload["adjustment"]["balanceAfter"]) == (-25, 115)
    assert ledger_selectors.balance(member.pk) == 115
    record = Adjustment.objects.get(
        ledger_transaction_id=int(payload["adjustment"]["transactionId"])
    )
    assert record.actor_label.startswith("API key ")


def test_typed_refusals_post_nothing(partner_a: Partner, settings: Any) -> None:
    member = s.funded_member(partner_a, 50, prefix="api-adjust-refused")
    assert _refused(partner_a, _vars(member, 10, reason="  ")) == ["ADJUSTMENT_REASON_MISSING"]
    assert _refused(partner_a, _vars(member, 0)) == ["ADJUSTMENT_POINTS_INVALID"]
    assert _refused(partner_a, _vars(member, -51)) == ["ADJUSTMENT_EXCEEDS_BALANCE"]
    assert _refused(partner_a, _vars("0000000000", 10)) == ["UNKNOWN_MEMBER"]
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = cap_today(partner_a).used + 5
    assert _refused(partner_a, _vars(member, 6)) == ["ADJUSTMENT_CAP_REACHED"]
    assert ledger_selectors.balance(member.pk) == 50


def test_a_debit_beyond_the_points_the_partner_issued_is_refused(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a member with 30 points from A and 500 from B
    member = s.funded_member(partner_a, 30, prefix="api-adjust-theirs")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=500)
    # when A takes back 31, then: refused, nothing posted; 30 is fine
    assert _refused(partner_a, _vars(member, -31)) == ["ADJUSTMENT_EXCEEDS_BALANCE"]
    assert ledger_selectors.balance(member.pk) == 530
    taken = s.gql(
        s.HOST_A, s.ADJUST_POINTS, _vars(member, -30), s.partner_key(partner_a, ["adjust"])
    ).payload("adjustPoints")
    assert taken["errors"] == []
    assert ledger_selectors.points_issued_by(member.pk, partner_b.pk) == 500


def test_the_same_key_answers_the_same_and_another_request_with_it_is_refused(
    partner_a: Partner,
) -> None:
    member = s.funded_member(partner_a, 0, prefix="api-adjust-key")
    token = s.partner_key(partner_a, ["adjust"])
    variables = _vars(member, 30, key="same-key-" + s.unique("k"))
    first = s.gql(s.HOST_A, s.ADJUST_POINTS, variables, token).payload("adjustPoints")
    again = s.gql(s.HOST_A, s.ADJUST_POINTS, variables, token).payload("adjustPoints")
    assert again == first
    assert ledger_selectors.balance(member.pk) == 30
    assert Adjustment.objects.filter(member=member).count() == 1
    before = s.books(partner_a)
    other = s.gql(s.HOST_A, s.ADJUST_POINTS, {**variables, "points": 31}, token)
    assert other.codes("adjustPoints") == ["IDEMPOTENCY_KEY_REUSED"]
    assert s.books(partner_a) == before


def test_the_adjusting_partner_is_the_host_and_another_partners_key_cannot_act_there(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = s.funded_member(partner_a, 0, prefix="api-adjust-host")
    # beta's key on beta's host adjusts for beta, never for alpha
    reply = s.gql(s.HOST_B, s.ADJUST_POINTS, _vars(member, 15), s.partner_key(partner_b))
    adjustment = reply.payload("adjustPoints")["adjustment"]
    tx = Transaction.objects.get(pk=int(adjustment["transactionId"]))
    assert tx.partner_id == partner_b.pk
    assert Adjustment.objects.get(member=member).partner_id == partner_b.pk
    # and beta's key on alpha's host is refused before anything runs
    before = s.books(partner_a, partner_b)
    refused = s.gql(s.HOST_A, s.ADJUST_POINTS, _vars(member, 15), s.partner_key(partner_b))
    assert refused.status == 403
    assert s.books(partner_a, partner_b) == before


def _statements(token: str, variables: dict[str, Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        reply = s.gql(s.HOST_A, s.ADJUST_POINTS, variables, token)
    assert reply.payload("adjustPoints")["errors"] == []
    return len(captured.captured_queries)


def test_a_debit_costs_the_same_statements_from_one_lot_as_from_twenty(
    partner_a: Partner,
) -> None:
    token = s.partner_key(partner_a, ["adjust"])
    one, twenty = s.enrol("api-adjust-one"), s.enrol("api-adjust-twenty")
    ledger.earn(member_id=one.pk, partner_id=partner_a.pk, points=20)
    for _ in range(20):
        ledger.earn(member_id=twenty.pk, partner_id=partner_a.pk, points=1)
    s.gql(s.HOST_A, s.ADJUST_POINTS, _vars(s.enrol("warm"), 1), token)  # first use of the key
    few = _statements(token, _vars(one, -20))
    many = _statements(token, _vars(twenty, -20))
    assert few == many, (few, many)
    assert ledger_selectors.balance(one.pk) == ledger_selectors.balance(twenty.pk) == 0
