"""Rule versions: a purchase earns with the version in force when it *happened*,
published versions never change, and replays return the original result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.errors import IdempotencyKeyReused
from coalition.ledger.verification import verify
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import engine
from tenants.earning import services as earning
from tenants.earning.models import EarnRule, RuleSetVersion
from tenants.partners.models import Partner
from tenants.purchases.errors import DuplicateReceipt
from tenants.purchases.models import Purchase
from tenants.purchases.services import ReceiptLine, purchase_preview, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import (
    max_transaction_id,
    new_member,
    publish,
    receipt,
    transactions_of,
    uid,
)

RATE_1 = [("base_rate", {"rates": {"EUR": "1"}})]
RATE_3 = [("base_rate", {"rates": {"EUR": "3"}})]


def test_new_version_applies_from_its_effective_date_and_old_purchases_keep_theirs(
    db: None, partner_a: Partner
) -> None:
    # given v1 (1 point per EUR) in force and a purchase recorded under it
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        v1 = publish(RATE_1, effective_from=now, now=now)
        first = purchase_record(receipt(member.pk, now, external_id=uid("V1")), now=now)
        assert (first.points, first.rule_version) == (10, v1.number)
        # when v2 (3 points per EUR) is published to take effect two minutes later
        v2 = publish(RATE_3, effective_from=now + timedelta(minutes=2), now=now)
        # and a purchase that happens after that is recorded
        second = purchase_record(
            receipt(member.pk, now + timedelta(minutes=3), external_id=uid("V2")), now=now
        )
        # then the new purchase earns with v2
        assert (second.points, second.rule_version) == (30, v2.number)
        # and the first purchase was not recomputed: same points, same version
        stored = Purchase.objects.get(external_id=first.external_id)
        assert (stored.points_awarded, stored.rule_version_id) == (10, v1.pk)
        assert stored.breakdown["total"] == 10
    assert ledger_selectors.balance(member.pk) == 40
    assert transactions_of(member.pk) == 2


def test_purchase_before_the_new_effective_date_uses_the_old_version(
    db: None, partner_a: Partner
) -> None:
    # given v1 in force and v2 already published for two minutes from now
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        v1 = publish(RATE_1, effective_from=now, now=now)
        v2 = publish(RATE_3, effective_from=now + timedelta(minutes=2), now=now)
        # when a purchase that happened one minute from now (before v2) is recorded
        # after v2 was published
        late = purchase_record(receipt(member.pk, now + timedelta(minutes=1)), now=now)
        # and one exactly at v2's effective instant
        at_switch = purchase_record(receipt(member.pk, v2.effective_from), now=now)
    # then the first uses v1, the second v2
    assert v2.effective_from is not None
    assert (late.points, late.rule_version) == (10, v1.number)
    assert (at_switch.points, at_switch.rule_version) == (30, v2.number)


def test_version_with_the_latest_effective_date_wins_whatever_its_number(
    db: None, partner_a: Partner
) -> None:
    # given a version published for in two minutes, and then another (a higher
    # number) published for in one minute
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish(RATE_1, effective_from=now, now=now)
        later = publish(RATE_3, effective_from=now + timedelta(minutes=2), now=now)
        sooner = publish(
            [("base_rate", {"rates": {"EUR": "2"}})],
            effective_from=now + timedelta(minutes=1),
            now=now,
        )
        assert sooner.number > later.number
        # when purchases from between the two dates and after both are recorded
        between = purchase_record(receipt(member.pk, now + timedelta(seconds=90)), now=now)
        after = purchase_record(receipt(member.pk, now + timedelta(minutes=3)), now=now)
    # then each uses the version whose effective date came last before it
    assert (between.points, between.rule_version) == (20, sooner.number)
    assert (after.points, after.rule_version) == (30, later.number)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(timedelta(hours=-1), id="an-hour-ago"),
        pytest.param(timedelta(days=-30), id="a-month-ago"),
        pytest.param(timedelta(seconds=-5), id="five-seconds-ago"),
    ],
)
def test_publishing_in_the_past_is_refused(db: None, partner_a: Partner, offset: timedelta) -> None:
    # given a complete draft
    now = timezone.now()
    with in_partner(partner_a):
        draft = earning.ruleset_draft_create()
        earning.rule_add(version=draft, kind="base_rate", params={"rates": {"EUR": "1"}})
        # when it is published with an effective date in the past, then it is refused
        with pytest.raises(earning.InvalidEffectiveDate):
            earning.ruleset_publish(version=draft, effective_from=now + offset, now=now)
        # and it is still a draft
        draft.refresh_from_db()
        assert (draft.published_at, draft.effective_from) == (None, None)


def test_publishing_with_a_naive_date_is_refused(db: None, partner_a: Partner) -> None:
    # given a complete draft
    now = timezone.now()
    with in_partner(partner_a):
        draft = earning.ruleset_draft_create()
        earning.rule_add(version=draft, kind="base_rate", params={"rates": {"EUR": "1"}})
        # when it is published with a date without a time zone, then it is refused
        with pytest.raises(earning.InvalidEffectiveDate):
            earning.ruleset_publish(
                version=draft, effective_from=(now + timedelta(hours=1)).replace(tzinfo=None)
            )
        draft.refresh_from_db()
        assert draft.published_at is None


def test_published_version_cannot_be_edited(db: None, partner_a: Partner) -> None:
    # given a published version
    now = timezone.now()
    with in_partner(partner_a):
        version = publish(RATE_1, effective_from=now + timedelta(hours=1), now=now)
        rule = EarnRule.objects.get(version=version)
        # when a rule is added, removed, or the version published again, then each
        # is refused with VersionNotDraft
        with pytest.raises(earning.VersionNotDraft):
            earning.rule_add(
                version=version, kind="receipt_cap", params={"points": 5}, name="sneaky cap"
            )
        with pytest.raises(earning.VersionNotDraft):
            earning.rule_remove(rule=rule)
        with pytest.raises(earning.VersionNotDraft):
            earning.ruleset_publish(version=version, effective_from=now + timedelta(hours=2))
        # and the version is exactly as published
        assert list(EarnRule.objects.filter(version=version).values_list("kind", "params")) == [
            ("base_rate", {"rates": {"EUR": "1"}})
        ]
        version.refresh_from_db()
        assert version.effective_from == now + timedelta(hours=1)


def test_publishing_needs_a_base_rate_and_a_free_instant(db: None, partner_a: Partner) -> None:
    # given a published version and two drafts, one without a base rate
    now = timezone.now()
    at = now + timedelta(hours=1)
    with in_partner(partner_a):
        publish(RATE_1, effective_from=at, now=now)
        empty = earning.ruleset_draft_create()
        earning.rule_add(version=empty, kind="receipt_cap", params={"points": 5})
        clash = earning.ruleset_draft_create(
            copy_from=RuleSetVersion.objects.get(effective_from=at, published_at__isnull=False)
        )
        # when they are published, then a version without a base rate is refused
        with pytest.raises(engine.InvalidRule):
            earning.ruleset_publish(version=empty, effective_from=at + timedelta(hours=1), now=now)
        # and two versions cannot take effect at the same instant
        with pytest.raises(earning.InvalidEffectiveDate):
            earning.ruleset_publish(version=clash, effective_from=at, now=now)
        assert (
            RuleSetVersion.objects.filter(pk__in=[empty.pk, clash.pk], published_at=None).count()
            == 2
        )


def test_replay_with_the_same_key_returns_the_original_result_after_the_rules_changed(
    db: None, partner_a: Partner
) -> None:
    # given a purchase recorded with an idempotency key under v1; it happened four
    # minutes from now (within the clock tolerance)
    now = timezone.now()
    member = new_member()
    key = IdempotencyKey("partner:alpha:pos", uid("K"))
    with in_partner(partner_a):
        v1 = publish(RATE_1, effective_from=now, now=now)
        the_receipt = receipt(member.pk, now + timedelta(minutes=4))
        original = purchase_record(the_receipt, idempotency=key, now=now)
        # when v2 is published before the purchase's time, so that pricing it again
        # would now give 30 points
        publish(RATE_3, effective_from=now + timedelta(minutes=1), now=now)
        assert purchase_preview(the_receipt, now=now).rule_points == 30
        before = (ledger_selectors.balance(member.pk), transactions_of(member.pk))
        # and the same receipt is replayed with the same key
        replay = purchase_record(the_receipt, idempotency=key, now=now)
    # then the original result comes back, nothing recomputed or posted again
    assert replay == original
    assert replay.replayed
    assert not original.replayed
    assert (replay.points, replay.rule_version) == (10, v1.number)
    assert (ledger_selectors.balance(member.pk), transactions_of(member.pk)) == before == (10, 1)


def test_same_key_with_a_different_receipt_is_refused(db: None, partner_a: Partner) -> None:
    # given a purchase recorded with a key
    now = timezone.now()
    member = new_member()
    key = IdempotencyKey("partner:alpha:pos", uid("K"))
    with in_partner(partner_a):
        publish(RATE_1, effective_from=now, now=now)
        purchase_record(receipt(member.pk, now), idempotency=key, now=now)
        purchases, last_tx = Purchase.objects.count(), max_transaction_id()
        # when another receipt (new external id, other amount) comes with the same key
        other = receipt(member.pk, now, ReceiptLine("B", "food", 2, 700))
        # then it is refused and nothing is recorded or posted
        with pytest.raises(IdempotencyKeyReused):
            purchase_record(other, idempotency=key, now=now)
        assert Purchase.objects.count() == purchases
        assert not Purchase.objects.filter(external_id=other.external_id).exists()
    assert max_transaction_id() == last_tx
    assert ledger_selectors.balance(member.pk) == 10


def test_same_external_id_with_other_content_is_a_duplicate_receipt(
    db: None, partner_a: Partner
) -> None:
    # given a recorded receipt
    now = timezone.now()
    member = new_member()
    external_id = uid("DUP")
    with in_partner(partner_a):
        publish(RATE_1, effective_from=now, now=now)
        first = purchase_record(receipt(member.pk, now, external_id=external_id), now=now)
        last_tx = max_transaction_id()
        # when the same external id arrives again, identical: it is replayed
        again = purchase_record(receipt(member.pk, now, external_id=external_id), now=now)
        assert again == first
        assert again.replayed
        # and with other content (another amount, with or without a key) it is refused
        changed = receipt(
            member.pk, now, ReceiptLine("A", "food", 1, 1500), external_id=external_id
        )
        with pytest.raises(DuplicateReceipt):
            purchase_record(changed, now=now)
        with pytest.raises(DuplicateReceipt):
            purchase_record(
                changed, idempotency=IdempotencyKey("partner:alpha:pos", uid("K")), now=now
            )
        assert Purchase.objects.filter(external_id=external_id).count() == 1
    assert max_transaction_id() == last_tx
    assert ledger_selectors.balance(member.pk) == 10
    report = verify()
    assert report.ok, report.problems
