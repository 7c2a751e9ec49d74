"""Hot statements (``driver_sql.prepared``) run on one kept cursor per driver
connection: a new connection (after a close, or a failed health check) gets a
new cursor, an error leaves the cursor usable, and the statements are still
logged where Django logs its own."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty_kernel import driver_sql

ADD = "SELECT %(a)s::int + 1"


def test_a_new_connection_gets_a_new_cursor(live_db: Any) -> None:
    assert driver_sql.prepared(ADD, {"a": 1}) == (2,)
    first = connection.connection
    connection.close()

    assert driver_sql.prepared(ADD, {"a": 2}) == (3,)
    assert connection.connection is not first


def test_an_error_leaves_the_cursor_usable(live_db: Any) -> None:
    with pytest.raises(DataError), transaction.atomic():
        driver_sql.prepared("SELECT 1 / %(a)s::int", {"a": 0})
    assert driver_sql.prepared(ADD, {"a": 41}) == (42,)


def test_prepared_statements_are_logged(db: None) -> None:
    with CaptureQueriesContext(connection) as captured:
        driver_sql.prepared(ADD, {"a": 1})
        driver_sql.prepared(ADD, {"a": 2})
    assert [query["sql"] for query in captured.captured_queries] == [f"[driver] {ADD}"] * 2
