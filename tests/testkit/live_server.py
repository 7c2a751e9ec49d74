"""A real HTTP server on the test database, in a thread, for browser tests.

Django's own live-server thread serves the WSGI application with static files.
Data the browser should see must be committed (use the ``live_db`` fixture):
the server's threads have their own database connections.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.handlers import StaticFilesHandler
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
    thread.terminate()
