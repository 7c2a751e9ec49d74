"""Hot statements (``driver_sql.prepared``) run on one kept cursor per driver
connection: a new connection (after a close, or a failed health check) gets a
new cursor, an error leaves the cursor usable, and the statements are still
logged where Django logs its own."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg._pipeline_base import BasePipeline

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


def test_a_pipeline_answers_in_order_and_an_error_leaves_its_cursors_usable(
    live_db: Any,
) -> None:
    with transaction.atomic():
        first, second = driver_sql.prepared_pipeline([(ADD, {"a": 1}), (ADD, {"a": 2})])
    assert (first, second) == ([(2,)], [(3,)])

    with pytest.raises(DataError), transaction.atomic():
        driver_sql.prepared_pipeline([(ADD, {"a": 1}), ("SELECT 1 / %(a)s::int", {"a": 0})])
    with transaction.atomic():
        assert driver_sql.prepared_pipeline([(ADD, {"a": 40}), (ADD, {"a": 41})]) == [
            [(41,)],
            [(42,)],
        ]


def test_a_pipeline_sends_one_sync(live_db: Any) -> None:
    """Leaving psycopg's pipeline block sends a Sync and reads every answer; a
    ``sync()`` inside the block as well sent a second one and waited for it (a
    round trip more). Counted where psycopg queues its Syncs, in a transaction
    already begun (psycopg syncs a BEGIN of its own before the statements)."""
    queue_sync = BasePipeline._enqueue_sync
    with transaction.atomic():
        driver_sql.prepared(ADD, {"a": 0})  # the transaction begins here
        with mock.patch.object(
            BasePipeline, "_enqueue_sync", autospec=True, side_effect=queue_sync
        ) as syncs:
            driver_sql.prepared_pipeline([(ADD, {"a": 1}), (ADD, {"a": 2})])
    assert syncs.call_count == 1
