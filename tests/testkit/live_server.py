"""A real HTTP server on the test database, in a thread, for browser tests.

Django's own live-server thread serves the WSGI application with static files.
Data the browser should see must be committed (use the ``live_db`` fixture):
the server's threads have their own database connections.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connection
from django.test.testcases import LiveServerThread


def start_live_server() -> tuple[Any, str]:
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    return thread, f"http://localhost:{thread.port}"


def stop_live_server(thread: Any) -> None:
    """Stop serving, then wait for the request threads' database sessions to end
    (the test database is dropped next, which PostgreSQL refuses while in use)."""
    thread.terminate()
    with connection.cursor() as cursor:
        for _ in range(50):
            cursor.execute(OTHER_SESSIONS)
            if not cursor.fetchone()[0]:
                return
            time.sleep(0.1)
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


OTHER_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
