"""The coalition rules: the settings' defaults until an operator sets them; set all
at once with a reason, audited before and after, the same values again recording
nothing; values out of range refused with the field named, changing nothing; the
database holds one row whatever happens; two admins saving at once both land, in
order, each audit entry's "before" being what it replaced. Partners' adjustments
count against the cap in force."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from coalition.adjustments import services as adjustments
from coalition.adjustments.errors import AdjustmentCapReached
from coalition.adjustments.models import Adjustment
from coalition.audit.models import AuditEntry
from coalition.members.services import member_enrol
from coalition.rules.errors import CoalitionRuleInvalid, CoalitionRuleReasonMissing
from coalition.rules.models import CoalitionRules
from coalition.rules.selectors import coalition_rules, default_rules
from coalition.rules.services import coalition_rules_set
from tenants.partners.models import Partner


def _admin() -> Any:
    return get_user_model().objects.create_user(
        username=f"rules-{uuid.uuid4().hex[:8]}", email="rules@example.com"
    )


def test_the_settings_apply_until_an_operator_sets_the_rules(db: None, settings: Any) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 4321
    settings.LOYALTY_GOODWILL_APPROVAL_THRESHOLD = 77
    rules = coalition_rules()
    assert (rules.adjustment_daily_cap, rules.goodwill_approval_threshold) == (4321, 77)
    assert rules.changed_at is None


def test_rules_are_set_with_a_reason_and_audited_and_the_same_again_records_nothing(
    db: None,
) -> None:
    admin = _admin()
    before = default_rules()
    change = coalition_rules_set(
        adjustment_daily_cap=2500, goodwill_approval_threshold=300,
        reason="  fraud at one partner ", actor=admin,
    )  # fmt: skip
    assert change.changed
    rules = coalition_rules()
    assert (rules.adjustment_daily_cap, rules.goodwill_approval_threshold) == (2500, 300)
    assert (rules.reason, rules.changed_by) == ("fraud at one partner", "rules@example.com")
    (entry,) = AuditEntry.objects.filter(action="programme.rules_change")
    assert entry.partner_id is None
    assert entry.before == {
        "adjustment_daily_cap": before.adjustment_daily_cap,
        "goodwill_approval_threshold": before.goodwill_approval_threshold,
    }
    assert entry.after == {"adjustment_daily_cap": 2500, "goodwill_approval_threshold": 300,
                           "reason": "fraud at one partner"}  # fmt: skip
    # the same values (another reason) change nothing and record nothing
    again = coalition_rules_set(
        adjustment_daily_cap=2500, goodwill_approval_threshold=300, reason="again", actor=admin
    )
    assert not again.changed
    assert AuditEntry.objects.filter(action="programme.rules_change").count() == 1
    assert CoalitionRules.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"adjustment_daily_cap": -1}, "adjustment_daily_cap"),
        ({"adjustment_daily_cap": 100_000_001}, "adjustment_daily_cap"),
        ({"goodwill_approval_threshold": -5}, "goodwill_approval_threshold"),
        ({"goodwill_approval_threshold": True}, "goodwill_approval_threshold"),
        ({"adjustment_daily_cap": "10"}, "adjustment_daily_cap"),
    ],
)
def test_a_value_out_of_range_is_refused_with_its_field_and_changes_nothing(
    db: None, values: dict[str, Any], field: str
) -> None:
    arguments = {"adjustment_daily_cap": 10, "goodwill_approval_threshold": 10, **values}
    with pytest.raises(CoalitionRuleInvalid) as refused:
        coalition_rules_set(**arguments, reason="test", actor=_admin())
    assert refused.value.field == field
    assert not CoalitionRules.objects.exists()
    assert not AuditEntry.objects.filter(action="programme.rules_change").exists()


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_change_needs_a_short_reason(db: None, reason: str) -> None:
    with pytest.raises(CoalitionRuleReasonMissing) as refused:
        coalition_rules_set(
            adjustment_daily_cap=10, goodwill_approval_threshold=10, reason=reason, actor=None
        )
    assert refused.value.field == "reason"
    assert not CoalitionRules.objects.exists()


def test_the_database_holds_one_row_of_rules(db: None) -> None:
    coalition_rules_set(
        adjustment_daily_cap=10, goodwill_approval_threshold=10, reason="first", actor=None
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CoalitionRules.objects.create(adjustment_daily_cap=1, goodwill_approval_threshold=1)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE public.rules_coalitionrules SET adjustment_daily_cap = -1")
    assert CoalitionRules.objects.count() == 1


def test_partners_adjustments_count_against_the_cap_in_force(db: None, partner_a: Partner) -> None:
    member = member_enrol(email=f"rules-{uuid.uuid4().hex[:8]}@example.com")
    Adjustment.objects.filter(partner=partner_a).delete()
    coalition_rules_set(
        adjustment_daily_cap=150, goodwill_approval_threshold=10, reason="tight", actor=None
    )

    def adjust(points: int) -> Any:
        return adjustments.adjust_points(
            partner=partner_a, member=member, points=points, reason="goodwill",
            actor=None, idempotency=None,
        )  # fmt: skip

    adjust(100)
    with pytest.raises(AdjustmentCapReached):
        adjust(51)
    # an operator raises the cap: the rest of the day counts against the new one
    coalition_rules_set(
        adjustment_daily_cap=200, goodwill_approval_threshold=10, reason="raised", actor=None
    )
    adjust(100)
    assert Adjustment.objects.filter(partner=partner_a).count() == 2


def test_two_admins_saving_at_once_both_land_in_order(live_db: None) -> None:
    # given no rules yet (committed ones are removed at the end, so no other test sees
    # them), and two admins pressing save at the same moment
    CoalitionRules.objects.all().delete()
    audited = AuditEntry.objects.filter(action="programme.rules_change", before__isnull=False)
    seen = set(audited.values_list("pk", flat=True))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(cap: int) -> None:
        try:
            barrier.wait(timeout=10)
            coalition_rules_set(
                adjustment_daily_cap=cap, goodwill_approval_threshold=5,
                reason=f"cap {cap}", actor=None,
            )  # fmt: skip
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(cap,)) for cap in (111, 222)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # then both were saved, one after the other, on one row
        assert errors == []
        assert CoalitionRules.objects.count() == 1
        first, second = audited.exclude(pk__in=seen).order_by("pk")
        assert second.before["adjustment_daily_cap"] == first.after["adjustment_daily_cap"]
        assert coalition_rules().adjustment_daily_cap == second.after["adjustment_daily_cap"]
    finally:
        CoalitionRules.objects.all().delete()
