"""A worker's database connection lives around a task as around a request
(loyalty_platform.celery): kept for DATABASE_CONN_MAX_AGE, replaced when unusable,
never touched for an eager task. Celery's own fix-up, which closed it around every
task (a new PostgreSQL backend per task), is held off by CELERY_DB_REUSE_MAX."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import psycopg
from celery.fixups.django import DjangoWorkerFixup
from django.conf import settings
from django.db import connection

from loyalty_platform.celery import app, connections_as_around_a_request
from tests.testkit import assert_on_test_database


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def _task(eager: bool) -> Any:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def _around_a_task(fixup: DjangoWorkerFixup, task: Any) -> None:
    """What a worker's signals run around one task, in Celery's order."""
    fixup.on_task_prerun(sender=task)
    connections_as_around_a_request(task=task)
    with connection.cursor() as cursor:  # the task's work
        cursor.execute("SELECT 1")
    fixup.on_task_postrun(sender=task)
    connections_as_around_a_request(task=task)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_connection_within_its_age_serves_task_after_task(live_db: None) -> None:
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max == settings.CELERY_DB_REUSE_MAX
    first = _backend_pid()
    connection.close_at = time.monotonic() + 60  # as with DATABASE_CONN_MAX_AGE=60
    for _ in range(5):
        _around_a_task(fixup, _task(eager=False))
    assert _backend_pid() == first


def test_an_old_or_broken_connection_is_replaced_before_the_next_task(
    live_db: None,
) -> None:
    fixup = DjangoWorkerFixup(app)
    first = _backend_pid()
    connection.close_at = time.monotonic() - 1  # past DATABASE_CONN_MAX_AGE (0 by default)
    _around_a_task(fixup, _task(eager=False))
    second = _backend_pid()
    assert second != first
    # a connection the server dropped (restart, idle timeout, terminated backend)
    connection.close_at = time.monotonic() + 60
    with psycopg.connect(  # from another session: terminate it
        dbname=connection.settings_dict["NAME"],
        host=connection.settings_dict["HOST"] or None,
        port=connection.settings_dict["PORT"] or None,
        user=connection.settings_dict["USER"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [second])
    time.sleep(0.2)
    connections_as_around_a_request(task=_task(eager=False))
    assert _backend_pid() not in {first, second}  # a task after it finds a fresh one


def test_an_eager_task_leaves_the_requests_connection_alone(live_db: None) -> None:
    first = _backend_pid()
    connection.close_at = time.monotonic() - 1  # even one past its age
    connections_as_around_a_request(task=_task(eager=True))
    assert connection.connection is not None
    assert _backend_pid() == first
