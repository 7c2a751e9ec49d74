"""The expiry policy as the operator sets it, at the service: values checked,
country codes cleaned and checked against ISO 3166, the first set making the
policy row, each refusal a typed error that changes nothing, and the policy then
deciding new lots' dates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.expiry import services
from coalition.expiry.errors import ExpiryCountryUnknown, ExpiryPolicyInvalid
from coalition.expiry.models import ExpiryPolicy
from loyalty_kernel.errors import DomainError

pytestmark = pytest.mark.django_db

VALID: dict[str, Any] = {"mode": "fixed", "months": 12, "inactivity_months": 24,
                         "reminder_days": 30, "inactivity_only_countries": ["de"]}  # fmt: skip


def _set(**change: Any) -> ExpiryPolicy:
    return services.expiry_policy_set(**{**VALID, **change}, actor=None)


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"mode": "never"}, ExpiryPolicyInvalid, "mode"),
        ({"months": 0}, ExpiryPolicyInvalid, "months"),
        ({"inactivity_months": 601}, ExpiryPolicyInvalid, "inactivity_months"),
        ({"reminder_days": 0}, ExpiryPolicyInvalid, "reminder_days"),
        ({"inactivity_only_countries": ["DE", "UK"]}, ExpiryCountryUnknown,
         "inactivity_only_countries"),
    ],
)  # fmt: skip
def test_each_refusal_is_typed_and_changes_nothing(
    change: dict[str, Any], error: type[DomainError], field: str
) -> None:
    _set()
    before = (list(ExpiryPolicy.objects.values()), AuditEntry.objects.count())
    with pytest.raises(error) as raised:
        _set(**change)
    assert (raised.value.code, raised.value.field) == (error.code, field)
    assert (list(ExpiryPolicy.objects.values()), AuditEntry.objects.count()) == before


def test_the_policy_set_decides_new_lots_dates_by_country() -> None:
    _set(months=6, inactivity_only_countries=[" fr ", "de", "DE"])
    policy = ExpiryPolicy.objects.get()
    assert policy.inactivity_only_countries == ["DE", "FR"]
    earned = datetime(2026, 1, 31, tzinfo=UTC)
    assert services.lot_expiry_under(policy, "ES", earned) == datetime(2026, 7, 31, tzinfo=UTC)
    assert services.lot_expiry_under(policy, "fr", earned) is None
    # a second set changes the row in force, never adds one
    _set(mode="inactivity")
    assert ExpiryPolicy.objects.count() == 1
    assert services.lot_expiry_under(ExpiryPolicy.objects.get(), "ES", earned) is None
    assert AuditEntry.objects.filter(action="programme.expiry_policy_change").count() == 2
