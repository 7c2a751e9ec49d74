"""The embedded PostgreSQL used when no ``DATABASE_URL`` is configured.

A new user needs nothing but Python: the ``pgserver`` wheel carries PostgreSQL
binaries, and we keep its data folder inside the project (``.loyalty/pgdata``,
git-ignored, or ``LOYALTY_DATA_DIR``). It listens on a Unix socket only. Entry
points (the ``loyalty`` command, WSGI, Celery, pytest) call ``ensure_running``
before Django connects; settings never start servers on import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

EMBEDDED_FLAG = "LOYALTY_EMBEDDED_DB"
DATABASE_NAME = "loyalty"

_server: Any = None  # keeps the pgserver handle alive for this process


def project_root() -> Path:
    here = Path(__file__).resolve().parent.parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    configured = os.environ.get("LOYALTY_DATA_DIR", "").strip()
    return Path(configured).resolve() if configured else project_root() / ".loyalty"


def is_embedded() -> bool:
    return os.environ.get(EMBEDDED_FLAG) == "1" or not os.environ.get("DATABASE_URL", "").strip()


def ensure_running() -> str:
    """Start (or join) the embedded server unless DATABASE_URL is set; return the URL.

    The URL is exported as DATABASE_URL so that child processes (the web server's
    workers, a Celery worker, a test's subprocess) use the same server.
    """
    global _server
    configured = os.environ.get("DATABASE_URL", "").strip()
    if configured and os.environ.get(EMBEDDED_FLAG) != "1":
        return configured
    if _server is None:
        import logging
        import warnings

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' runtime-dir notice
            import pgserver

        pgdata = data_dir() / "pgdata"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _server = pgserver.get_server(pgdata, cleanup_mode="stop")
        exists = _server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608 constant
        ).strip()
        if "(1 row)" not in exists:
            _server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    socket_dir = parse_qs(urlsplit(_server.get_uri()).query)["host"][0]
    url = f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
    os.environ["DATABASE_URL"] = url
    os.environ[EMBEDDED_FLAG] = "1"
    return url
