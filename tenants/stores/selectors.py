"""Reads of a partner's stores: the SQL that reads the store table, and the list
the console shows (both in the partner's schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenants.stores.models import Store


def store_id_sql(s: str, *, code: str) -> str:
    """The id of the store with the code ``code`` (an SQL expression), NULL if the
    partner has none; ``s`` is the partner schema as SQL. A purchase names its
    store by code and is refused when the code is unknown."""
    return f"(SELECT id FROM {s}.stores_store WHERE code = {code})"  # noqa: S608 - identifiers and placeholders only, values are parameters


def stores_of_partner() -> QuerySet[Store]:
    """The current partner's stores, by code; the partner is the active schema."""
    return Store.objects.order_by("code")
