"""The programme's tier rules as the operator changes them, at the service: each
refusal is a typed error with a code and a field, and leaves levels, policy and
the audit log as they were."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.tiers import services
from coalition.tiers.errors import (
    TierLevelCodeTaken,
    TierLevelInvalid,
    TierPolicyInvalid,
    TierThresholdNotIncreasing,
    UnknownTierLevel,
)
from coalition.tiers.models import TierLevel, TierPolicy
from loyalty_kernel.errors import DomainError

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    return (
        sorted(TierLevel.objects.values_list("code", "name", "rank", "threshold_points")),
        sorted(TierPolicy.objects.values_list("qualification", "grace_days")),
        AuditEntry.objects.count(),
    )


def _add(code: str, points: int, key: str | None = None, name: str | None = None) -> TierLevel:
    level, _ = services.tier_level_add(
        code=code, name=name if name is not None else code.title(),
        threshold_points=points, request_key=key or code, actor=None,
    )  # fmt: skip
    return level


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: _add("gold", 1000), TierThresholdNotIncreasing, "threshold_points"),
        (lambda: _add("silver", 9000, key="again"), TierLevelCodeTaken, "code"),
        (lambda: _add("gold", 9000, name=""), TierLevelInvalid, "name"),
        (lambda: _add("gold", 9000, name="x" * 61), TierLevelInvalid, "name"),
        (lambda: _add("gold", -5), TierLevelInvalid, "threshold_points"),
        (lambda: _add("gold", 9000, key=" "), TierLevelInvalid, "name"),
        (lambda: services.tier_level_change(code="nothing", name="N", threshold_points=1,
                                            actor=None), UnknownTierLevel, "code"),
        (lambda: services.tier_level_change(code="basic", name="Basic", threshold_points=1000,
                                            actor=None), TierThresholdNotIncreasing,
         "threshold_points"),
        (lambda: services.tier_policy_set(qualification="weekly", grace_days=30, actor=None),
         TierPolicyInvalid, "qualification"),
        (lambda: services.tier_policy_set(qualification="calendar_year", grace_days=-1,
                                          actor=None), TierPolicyInvalid, "grace_days"),
        (lambda: services.tier_policy_set(qualification="calendar_year", grace_days=4000,
                                          actor=None), TierPolicyInvalid, "grace_days"),
    ],
)  # fmt: skip
def test_each_refusal_is_typed_and_changes_nothing(
    call: Any, error: type[DomainError], field: str
) -> None:
    _add("basic", 0)
    _add("silver", 1000)
    before = _state()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == error.code
    assert raised.value.field == field
    assert _state() == before


def test_the_same_form_twice_adds_one_level_and_one_audit_entry() -> None:
    first = _add("basic", 0, key="k1")
    again, added = services.tier_level_add(
        code="other", name="Other", threshold_points=50, request_key="k1", actor=None
    )
    assert (again.pk, added) == (first.pk, False)
    assert TierLevel.objects.count() == 1
    assert AuditEntry.objects.filter(action="programme.tier_level_add").count() == 1


def test_the_policy_is_made_once_then_changed_and_each_change_audited() -> None:
    services.tier_policy_set(qualification="calendar_year", grace_days=10, actor=None)
    services.tier_policy_set(qualification="calendar_year", grace_days=10, actor=None)
    services.tier_policy_set(qualification="rolling_12_months", grace_days=20, actor=None)
    assert list(TierPolicy.objects.values_list("qualification", "grace_days")) == [
        ("rolling_12_months", 20)
    ]
    entries = AuditEntry.objects.filter(action="programme.tier_policy_change").order_by("id")
    assert [e.before for e in entries] == [None, {"qualification": "calendar_year",
                                                  "grace_days": 10}]  # fmt: skip
