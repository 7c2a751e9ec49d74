"""Transfer caps as the operator sets them, at the service: a row per kind and
tier made, changed or removed in one transaction, each change audited, and each
refusal (an unknown kind or tier, a negative cap) a typed error that changes
nothing at all, not even the valid rows of the same table."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.tiers.models import TierLevel
from coalition.transfers import services
from coalition.transfers.errors import TransferCapInvalid
from coalition.transfers.models import TransferCap

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    return (
        sorted(TransferCap.objects.values_list("kind", "tier_code", "yearly_points")),
        AuditEntry.objects.count(),
    )


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({("gift", ""): 10}, "kind"),
        ({("transfer", "platinum"): 10}, "tier_code"),
        ({("transfer", "gold"): -1}, "yearly_points"),
    ],
)
def test_a_refused_table_changes_no_row(bad: dict[tuple[str, str], int], field: str) -> None:
    TierLevel.objects.create(code="gold", name="Gold", rank=0, threshold_points=0)
    TransferCap.objects.create(kind="transfer", tier_code="", yearly_points=100)
    before = _state()
    with pytest.raises(TransferCapInvalid) as raised:
        services.transfer_caps_set(caps={("transfer", ""): 999, **bad}, actor=None)
    assert raised.value.field == field
    assert _state() == before


def test_rows_are_made_changed_and_removed_and_the_transfer_check_follows() -> None:
    TierLevel.objects.create(code="gold", name="Gold", rank=0, threshold_points=0)
    TransferCap.objects.create(kind="household", tier_code="", yearly_points=800)
    changed = services.transfer_caps_set(
        caps={("transfer", ""): 500, ("transfer", "gold"): 2000, ("household", ""): None,
              ("household", "gold"): None},
        actor=None,
    )  # fmt: skip
    assert changed == 3
    assert services.yearly_cap("transfer", "gold") == 2000
    assert services.yearly_cap("transfer", None) == 500
    assert services.yearly_cap("household", "gold") is None
    again = services.transfer_caps_set(caps={("transfer", ""): 500}, actor=None)
    assert again == 0
    assert AuditEntry.objects.filter(action="programme.transfer_cap_change").count() == 3
