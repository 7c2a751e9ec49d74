"""Charities as the operator changes them, at the service: added with their
ledger account once per form, edited, donations stopped and reopened; each
refusal a typed error that leaves charities and the audit log as they were."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.charity import services
from coalition.charity.errors import (
    CharityNotActive,
    CharitySlugTaken,
    InvalidCharity,
    UnknownCharity,
)
from coalition.charity.models import Charity
from loyalty_kernel.errors import DomainError
from tests.testkit.api import funded_member

pytestmark = pytest.mark.django_db


def _state() -> tuple[Any, ...]:
    return (
        sorted(Charity.objects.values_list("slug", "name", "point_value", "is_active")),
        AuditEntry.objects.count(),
    )


def _add(slug: str, key: str, **extra: Any) -> tuple[Charity, bool]:
    values = {"name": "Food Bank", "registration_number": "", "currency": "EUR",
              "point_value": Decimal("0.5"), "stripe_account_id": "", **extra}  # fmt: skip
    return services.charity_add(slug=slug, request_key=key, actor=None, **values)


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: _add("taken", "k2"), CharitySlugTaken, "slug"),
        (lambda: _add("x", "k2"), InvalidCharity, "slug"),
        (lambda: _add("add", "k2"), InvalidCharity, "slug"),
        (lambda: _add("new", "k2", name="  "), InvalidCharity, "name"),
        (lambda: _add("new", "k2", currency="ZZZ"), InvalidCharity, "currency"),
        (lambda: _add("new", "k2", point_value=Decimal(-1)), InvalidCharity, "point_value"),
        (lambda: services.charity_change(slug="nobody", name="N", registration_number="",
                                         point_value=Decimal(1), stripe_account_id="",
                                         actor=None), UnknownCharity, "charity"),
        (lambda: services.charity_set_active(slug="nobody", active=False, actor=None),
         UnknownCharity, "charity"),
    ],
)  # fmt: skip
def test_each_refusal_is_typed_and_changes_nothing(
    call: Any, error: type[DomainError], field: str
) -> None:
    _add("taken", "k1")
    before = _state()
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == error.code
    assert raised.value.field == field
    assert _state() == before


def test_a_closed_charity_takes_no_donation_until_reopened(partner_a: Any) -> None:
    charity, added = _add("closing", "k1")
    assert added
    member = funded_member(partner_a, 100, prefix="charity-close")
    services.charity_set_active(slug="closing", active=False, actor=None)
    with pytest.raises(CharityNotActive):
        services.donation_make(member_id=member.pk, charity_slug="closing", points=10)
    services.charity_set_active(slug="closing", active=True, actor=None)
    donation = services.donation_make(member_id=member.pk, charity_slug="closing", points=10)
    assert donation.charity_id == charity.pk
