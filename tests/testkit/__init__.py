"""Helpers shared by the test suite (import as ``tests.testkit``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.partners.models import Partner

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


@contextmanager
def in_partner(partner: Partner) -> Iterator[Partner]:
    with tenant_context(partner):
        yield partner


def host_client(host: str) -> Client:
    """A test client whose requests carry this Host header."""
    return Client(HTTP_HOST=host)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_of(settings_dict: dict[str, object]) -> str:
    """A DATABASE_URL for the database a connection uses (the test database),
    for subprocesses such as a Celery worker."""
    from urllib.parse import quote

    host = str(settings_dict.get("HOST") or "")
    port = str(settings_dict.get("PORT") or "")
    user = str(settings_dict.get("USER") or "postgres")
    password = str(settings_dict.get("PASSWORD") or "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    netloc = quote(host, safe="") if host.startswith("/") else host + (f":{port}" if port else "")
    return f"postgres://{auth}@{netloc}/{settings_dict['NAME']}"


# Environment variables the platform reads (README, Configuration), plus the flag
# the embedded database leaves for child processes. ``subprocess_env`` drops them,
# so a child process sees only the configuration a test gives it.
PLATFORM_ENV_VARS = frozenset(
    {
        "DATABASE_URL", "LOYALTY_EMBEDDED_DB", "DATABASE_CONN_MAX_AGE",
        "DATABASE_CONNECT_TIMEOUT", "LOYALTY_DATA_DIR", "REDIS_URL", "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
        "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "LOYALTY_BASE_DOMAIN", "LOYALTY_PUBLIC_HOSTS",
        "LOYALTY_COALITION_NAME", "LOYALTY_GRAPHIQL", "SECURE_COOKIES", "BIND", "PORT",
        "WEB_CONCURRENCY", "WEB_THREADS",
    }
)  # fmt: skip


def subprocess_env(**settings: str) -> dict[str, str]:
    """The environment for a child process: this one's, without any platform
    setting, plus the given ones."""
    env = {name: value for name, value in os.environ.items() if name not in PLATFORM_ENV_VARS}
    env.update(settings)
    return env


def tables_in_schema(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def assert_on_test_database() -> None:
    """Fail unless the connection uses the test database.

    pytest-django creates the test database only when a selected test uses ``db``
    (or the ``django_db`` mark); ``live_db`` alone does not, and the connection
    then still points at the configured (development) database. Modules whose
    tests use only ``live_db`` carry one small ``db`` test so that running them
    alone works, and call this before writing anything.
    """
    name = connection.settings_dict["NAME"]
    expected = connection.settings_dict.get("TEST", {}).get("NAME")
    assert expected, "settings name no test database"
    assert name == expected, f"connected to {name!r}, not the test database {expected!r}"
