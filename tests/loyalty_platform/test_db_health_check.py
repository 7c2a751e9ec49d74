"""The connection health check without a round trip: a live connection passes, one
the server has terminated fails, and a request after a termination still works
(Django replaces the connection before the request's first statement)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import psycopg
from django.db import connection

from tests.testkit import database_url_of


def _terminate(pid: int) -> None:
    with psycopg.connect(database_url_of(connection.settings_dict), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        # wait until the backend is gone, so its socket has been closed
        for _ in range(200):
            row = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row is None:
                return
            admin.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"backend {pid} still alive")


def test_a_live_connection_is_usable_without_a_query(live_db: Any) -> None:
    # given: an open, idle connection
    connection.ensure_connection()
    driver = connection.connection
    # when: it is checked, twice
    with mock.patch.object(type(driver), "cursor") as cursor, \
            mock.patch.object(type(driver), "execute") as execute:  # fmt: skip
        usable = [connection.is_usable(), connection.is_usable()]
    # then: usable both times, and no statement was sent
    assert usable == [True, True]
    cursor.assert_not_called()
    execute.assert_not_called()


def test_a_terminated_connection_is_found_unusable_and_replaced(live_db: Any) -> None:
    # given: an open connection whose backend an administrator terminates
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    _terminate(pid)
    # when: the health check looks at it
    # then: unusable, and Django's once-per-request check replaces it
    assert not connection.is_usable()
    connection.health_check_enabled = True
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
