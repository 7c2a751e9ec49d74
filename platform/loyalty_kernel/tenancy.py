"""Typed access to django-tenants' per-connection schema state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.db import connection
from django_tenants.utils import tenant_context


def _tenant_connection() -> Any:
    return cast(Any, connection)


def current_schema() -> str:
    return str(_tenant_connection().schema_name)


def current_tenant() -> Any:
    return _tenant_connection().tenant


def use_public_schema() -> None:
    _tenant_connection().set_schema_to_public()


@contextmanager
def in_tenant(tenant: Any) -> Iterator[Any]:
    """Run the block in ``tenant``'s schema on this connection, then go back to the
    schema the connection had (a public-host request acting at one partner)."""
    with tenant_context(tenant):
        yield tenant
