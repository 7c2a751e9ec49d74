"""Tenant isolation: partner data stays in its schema, coalition data in public."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import connection

from tenants.partners.models import Partner
from tenants.stores.models import Store
from tenants.stores.services import store_create
from tests.testkit import in_partner


def _tables_in_schema(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def _app_tables(app_labels: set[str]) -> set[str]:
    return {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in app_labels and not model._meta.proxy
    }


def _labels(app_paths: list[str]) -> set[str]:
    return {apps.get_app_config(path.rsplit(".", 1)[-1]).label for path in app_paths}


def test_store_written_in_partner_a_is_invisible_from_partner_b(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given a store created in partner A's schema
    with in_partner(partner_a):
        store_create(code="ISO-1", name="Only at A")
        assert Store.objects.filter(code="ISO-1").count() == 1
    # when partner B looks for it
    with in_partner(partner_b):
        seen_from_b = Store.objects.filter(code="ISO-1").count()
        # then B sees nothing, and B can use the same code for its own store
        store_create(code="ISO-1", name="B's own")
        assert Store.objects.get(code="ISO-1").name == "B's own"
    assert seen_from_b == 0
    with in_partner(partner_a):
        assert Store.objects.get(code="ISO-1").name == "Only at A"


def test_partner_tables_are_not_reachable_from_the_public_schema(db: None) -> None:
    tenant_only = _app_tables(_labels(settings.TENANT_APPS)) - _app_tables(
        _labels(settings.SHARED_APPS)
    )
    assert tenant_only, "expected tenant-only tables"
    assert not tenant_only & _tables_in_schema("public")


def test_coalition_tables_exist_only_in_the_public_schema(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    shared_only = _app_tables(_labels(settings.SHARED_APPS)) - _app_tables(
        _labels(settings.TENANT_APPS)
    )
    public_tables = _tables_in_schema("public")
    assert shared_only <= public_tables
    for schema in (partner_a.schema_name, partner_b.schema_name, settings.TENANT_BASE_SCHEMA):
        tenant_tables = _tables_in_schema(schema)
        assert "stores_store" in tenant_tables
        assert not shared_only & tenant_tables, schema


def test_tenant_apps_never_include_coalition_apps() -> None:
    # The ledger and members live only in the public schema (ARCHITECTURE invariant 5).
    assert not [app for app in settings.TENANT_APPS if app.startswith("coalition")]
    assert not set(settings.TENANT_APPS) & set(settings.SHARED_APPS)
