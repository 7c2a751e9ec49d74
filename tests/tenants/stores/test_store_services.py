"""A partner's stores: created in its own schema, with typed errors for bad data."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tenants.partners.models import Partner
from tenants.stores.models import Store, StoreChannel
from tenants.stores.services import InvalidStoreData, store_create
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db


def test_store_create_writes_the_store_into_the_partner_schema(partner_a: Partner) -> None:
    # when a store is created inside a partner's schema
    with in_partner(partner_a):
        store = store_create(
            code="ST-1",
            name="Alpha Main Street",
            channel=StoreChannel.ONLINE,
            time_zone="Europe/Madrid",
            city="Madrid",
        )
        # then it is stored there with its fields
        stored = Store.objects.get(code="ST-1")
    assert stored.pk == store.pk
    assert (stored.name, stored.channel, stored.time_zone, stored.city, stored.is_active) == (
        "Alpha Main Street",
        "online",
        "Europe/Madrid",
        "Madrid",
        True,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"time_zone": "Atlantis/Capital"}, "time_zone"),
        ({"code": "DUP"}, "code"),
    ],
)
def test_bad_store_data_gives_a_typed_error_naming_the_field(
    partner_a: Partner, fields: dict[str, str], field: str
) -> None:
    with in_partner(partner_a):
        # given a partner that has a store DUP
        store_create(code="DUP", name="First")
        # when a store is created with one bad value
        with pytest.raises(InvalidStoreData) as raised:
            store_create(**{"code": "NEW", "name": "Second", **fields})
        # then the error names the field, and no store was added
        assert raised.value.field == field
        assert raised.value.code == "invalid_store"
        assert list(Store.objects.values_list("code", flat=True)) == ["DUP"]


def test_the_database_refuses_an_unknown_channel_written_directly(partner_a: Partner) -> None:
    # when code bypassing the service writes a store with an unknown channel
    with in_partner(partner_a), pytest.raises(IntegrityError), transaction.atomic():
        Store.objects.create(code="RAW", name="Raw", channel="fax")
    # then the schema's check constraint refuses it
    with in_partner(partner_a):
        assert not Store.objects.filter(code="RAW").exists()
