"""Helpers shared by the test suite (import as ``tests.testkit``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
