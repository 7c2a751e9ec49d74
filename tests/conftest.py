"""Shared fixtures: a real PostgreSQL test database with two partner tenants.

The partners are created once per session, outside any test transaction (their
schemas are cloned from the template like in production), so tests that use
threads or subprocesses see them too. Tests that need committed data use
``live_db`` and create uniquely named rows of their own instead of relying on a
flush between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tenants.partners.models import Partner
from tests.testkit import host_client

SESSION_PARTNERS = (
    ("alpha", "Alpha Grocers", "EUR"),
    ("beta", "Beta Airways", "GBP"),
)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    from tenants.partners.services import partner_onboard, template_schema_ensure

    with django_db_blocker.unblock():
        template_schema_ensure()
        for slug, name, currency in SESSION_PARTNERS:
            if not Partner.objects.filter(slug=slug).exists():
                partner_onboard(name=name, slug=slug, default_currency=currency, activate=True)


@pytest.fixture(autouse=True)
def _back_to_public_schema() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Committed data, visible to other threads and processes; never flushed."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def partner_a(django_db_setup: Any, django_db_blocker: Any) -> Partner:
    with django_db_blocker.unblock():
        return Partner.objects.get(slug="alpha")


@pytest.fixture
def partner_b(django_db_setup: Any, django_db_blocker: Any) -> Partner:
    with django_db_blocker.unblock():
        return Partner.objects.get(slug="beta")


@pytest.fixture
def public_client() -> Client:
    return host_client("localhost")
