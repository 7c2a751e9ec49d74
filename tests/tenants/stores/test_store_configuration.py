"""Stores as staff configure them: edit, close, reopen, each change audited once."""

from __future__ import annotations

import pytest

from coalition.audit.models import AuditEntry
from tenants.partners.models import Partner
from tenants.stores import services as stores
from tenants.stores.errors import InvalidStoreData, UnknownStore
from tenants.stores.models import Store
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db


def test_a_store_is_edited_closed_and_reopened_with_audit_rows(partner_a: Partner) -> None:
    with in_partner(partner_a):
        stores.store_create(code="ED-1", name="Old name", actor="tester")
        # when it is renamed, closed twice and reopened
        stores.store_update(code="ED-1", name="New name", city="Lyon", actor="tester")
        stores.store_close(code="ED-1")
        stores.store_close(code="ED-1")
        closed = Store.objects.get(code="ED-1")
        stores.store_reopen(code="ED-1")
        # then each real change wrote one row with before and after
        actions = list(
            AuditEntry.objects.filter(object_type="store", object_id="ED-1")
            .order_by("id")
            .values_list("action", flat=True)
        )
        update = AuditEntry.objects.get(action="store.update", object_id="ED-1")
    assert not closed.is_active
    assert actions == ["store.create", "store.update", "store.close", "store.reopen"]
    assert (update.before["name"], update.after["name"], update.after["city"]) == (
        "Old name",
        "New name",
        "Lyon",
    )
    assert update.actor_label == "tester"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": " "}, "name"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_a_bad_edit_is_a_typed_error_and_changes_nothing(
    partner_a: Partner, change: dict[str, str], field: str
) -> None:
    with in_partner(partner_a):
        stores.store_create(code="ED-2", name="Shop")
        with pytest.raises(InvalidStoreData) as raised:
            stores.store_update(code="ED-2", **change)
        assert raised.value.field == field
        assert Store.objects.get(code="ED-2").name == "Shop"
        assert not AuditEntry.objects.filter(action="store.update").exists()


def test_an_unknown_store_or_a_bad_code_is_a_typed_error(partner_a: Partner) -> None:
    with in_partner(partner_a):
        with pytest.raises(UnknownStore):
            stores.store_close(code="NOPE")
        with pytest.raises(InvalidStoreData) as raised:
            stores.store_create(code="has space", name="X")
        assert raised.value.field == "code"
