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
from django.utils import translation

from tenants.partners.models import Partner
from tests.testkit import host_client

SESSION_PARTNERS = (
    ("alpha", "Alpha Grocers", "EUR"),
    ("beta", "Beta Airways", "GBP"),
)


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
) -> Iterator[None]:
    """Create the test database whenever any test needs the database.

    pytest-django's own fixture creates databases only for tests that use ``db``
    or the ``django_db`` mark; a run of ``live_db`` tests alone would then write
    into the configured (development or demo) database. This one always creates
    the default test database, then the partner template and the session partners.
    """
    from django.test.utils import setup_databases, teardown_databases

    from tenants.partners.services import partner_onboard, template_schema_ensure

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=verbosity, interactive=False, keepdb=django_db_keepdb, aliases={"default"}
        )
        template_schema_ensure()
        for slug, name, currency in SESSION_PARTNERS:
            if not Partner.objects.filter(slug=slug).exists():
                partner_onboard(name=name, slug=slug, default_currency=currency, activate=True)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            connection.close()
            teardown_databases(db_cfg, verbosity=verbosity)


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing(django_test_environment: None) -> None:
    """Hash passwords with a quick hasher in tests, as Django's testing guide
    advises: the production hasher (PBKDF2, a million iterations) takes 0.3 s a
    password on 2 cores, and the permission tests create a signed-in staff member
    with a password for every role and page (hundreds of hashes a run). Servers the
    tests start as processes (the demo, the fault injection) keep the real one."""
    from django.conf import settings
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


@pytest.fixture(autouse=True)
def _back_to_public_schema() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _forget_rolled_back_accounts() -> Iterator[None]:
    # The ledger remembers per process which of its accounts exist. A test whose
    # transaction rolls back may have opened them (the first earn of the run, say),
    # and a later test reading an account row directly would then not find it. The
    # write path opens a remembered account again when it is missing.
    yield
    from coalition.ledger.services import forget_known_accounts

    forget_known_accounts()


@pytest.fixture(autouse=True)
def _back_to_the_default_language() -> Iterator[None]:
    # A request the test client sends in Spanish leaves Spanish active in the test's
    # thread (the locale middleware activates it; nothing deactivates it), so the next
    # test formatting an expected amount would write "142,50" for a page in English.
    yield
    translation.deactivate()


# The tables committed data piles up in over a run (the ledger is append-only:
# never flushed). Their planner statistics are refreshed before each test with
# committed data: autovacuum analyses a table a minute or more after it grew, and
# a statement planned on statistics from when a table was nearly empty can pick
# nested loops over sequential scans (seen: a settlement close, normally 1 ms,
# running for minutes). Production tables change slowly relative to their size.
GROWING_TABLES = (
    "ledger_transaction", "ledger_entry", "ledger_lot", "ledger_lotmovement",
    "ledger_account", "ledger_hold", "members_member", "settlement_settlementterms",
    "settlement_statement", "settlement_settlementperiod",
)  # fmt: skip


@pytest.fixture
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Committed data, visible to other threads and processes; never flushed."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(f"public.{table}" for table in GROWING_TABLES))
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


# --- browser tests ------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that drives Chromium is marked ``browser``, so a run can leave the
    journeys out (``-m "not browser"``): CI's second run, on the machine's PostgreSQL,
    repeats what depends on the server, not what the browser sees."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A live server of the test database at http://localhost:PORT (partner hosts are
    SLUG.localhost:PORT, which Chromium resolves to this machine)."""
    from tests.testkit.live_server import start_live_server, stop_live_server

    with django_db_blocker.unblock():
        thread, url = start_live_server()
    try:
        yield url
    finally:
        with django_db_blocker.unblock():
            stop_live_server(thread)


@pytest.fixture(scope="session")
def chromium(live_server_url: str) -> Iterator[Any]:
    # Depends on the server so that it closes first: its keep-alive connections
    # would otherwise keep server threads (and their database sessions) alive.
    from tests.testkit.browser import start_browser

    playwright, browser = start_browser()
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def browser_page(chromium: Any, live_server_url: str, live_db: None) -> Iterator[Any]:
    """A fresh browser page (desktop size, no outside requests) on the live server."""
    from tests.testkit.browser import open_page

    yield from open_page(chromium, live_server_url)
