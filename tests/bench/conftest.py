"""Benchmarks take committed data without the suite's statistics refresh.

The suite's ``live_db`` analyses the ledger tables before each test, so that a
query over data committed by earlier tests is not planned on statistics from
when the tables were nearly empty. A benchmark is the opposite case: its tables
start nearly empty and grow by thousands of rows while it measures, and plans
made on statistics of the empty tables (sequential scans: the cheapest there)
would get slower with every row. Without the refresh the planner works from
the tables' real size, as it does in production where statistics are current.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


@pytest.fixture
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Committed data, visible to other threads and processes; never flushed."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()
