"""The value of a point at the till, as staff set it: positive, four decimals of a
minor unit at most, audited, and the same value twice changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from coalition.audit.models import AuditEntry
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.errors import InvalidPointValue
from tenants.rewards.models import PointsPaymentSettings
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db


def test_setting_the_value_creates_then_changes_it_with_audit_rows(partner_a: Partner) -> None:
    with in_partner(partner_a):
        first = rewards.payment_value_set(value_per_point=Decimal("1"), actor="tester")
        rewards.payment_value_set(value_per_point=Decimal("1.5"), actor="tester")
        rewards.payment_value_set(value_per_point=Decimal("1.5000"), actor="tester")
        stored = rewards.payment_settings()
        entries = list(AuditEntry.objects.filter(action="points_payments.value").order_by("id"))
    assert (stored.pk, stored.value_per_point, stored.currency) == (
        first.pk,
        Decimal("1.5"),
        partner_a.default_currency,
    )
    assert [(e.before, e.after["value_per_point"]) for e in entries] == [
        (None, "1"),
        ({"value_per_point": "1", "currency": partner_a.default_currency}, "1.5"),
    ]


@pytest.mark.parametrize("value", ["0", "-1", "0.00001", "100000000", "NaN"])
def test_a_bad_value_is_refused_and_changes_nothing(partner_a: Partner, value: str) -> None:
    with in_partner(partner_a):
        rewards.payment_value_set(value_per_point=Decimal("2"))
        with pytest.raises(InvalidPointValue) as raised:
            rewards.payment_value_set(value_per_point=Decimal(value))
        assert raised.value.field == "value_per_point"
        assert PointsPaymentSettings.objects.get().value_per_point == Decimal("2")
