"""A real Celery worker, on a real Redis, runs each task in the schema it was sent from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult
from django.db import connection
from django_tenants.utils import tenant_context
from tenant_schemas_celery.app import CeleryApp

from tenants.partners.models import Partner
from tests.testkit import PROJECT_ROOT, assert_on_test_database, database_url_of, subprocess_env

REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at LOYALTY_TEST_REDIS_URL={REDIS_URL} is unreachable ({exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the real-worker test")
        pytest.skip(f"{message}; start Redis or set LOYALTY_TEST_REDIS_URL to run this test")
    finally:
        client.close()


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def result(self, result: AsyncResult, timeout: float = 60) -> Any:
        """The task's result, failing early (with the log) if the worker dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result.ready():
                return result.get(timeout=5)
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            time.sleep(0.1)
        pytest.fail(f"no result within {timeout} s; worker log:\n{self.log_tail()}")


@pytest.fixture
def worker(live_db: None, tmp_path: Path) -> Iterator[Worker]:
    """A Celery worker process on the test database, consuming a queue of its own."""
    _redis_or_skip()
    assert_on_test_database()
    queue = f"test-h-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    env = subprocess_env(
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        DATABASE_URL=database_url_of(connection.settings_dict),
        DEBUG="1",
    )
    command = [
        sys.executable, "-m", "celery", "-A", "loyalty_platform", "worker",
        "--pool=solo", "-Q", queue, "-n", f"{queue}@%h", "-l", "info",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield Worker(queue, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    for key in client.scan_iter(match=f"*{queue}*"):  # the queue and its bindings
        client.delete(key)
    client.close()


@pytest.fixture
def client_app() -> Iterator[CeleryApp]:
    """A Celery client like a web node's: tenant-aware, sending to the broker (not
    the eager in-process app the test settings configure)."""
    app = CeleryApp("loyalty_test_client", set_as_current=False)
    app.conf.update(
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    yield app
    app.close()


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` test alone would not make pytest-django create the test database.
    assert_on_test_database()


@pytest.mark.slow
def test_worker_runs_each_task_in_the_schema_it_was_sent_from(
    worker: Worker, client_app: CeleryApp, partner_a: Partner, partner_b: Partner
) -> None:
    # given a real worker on Redis, and tasks sent from partner A, partner B and public
    with tenant_context(partner_a):
        from_a = client_app.send_task("platform.ping", queue=worker.queue)
    with tenant_context(partner_b):
        from_b = client_app.send_task("platform.ping", queue=worker.queue)
    from_public = client_app.send_task("platform.ping", queue=worker.queue)
    # when the worker runs them
    answers = [worker.result(result) for result in (from_a, from_b, from_public)]
    # then each ran in the schema it was sent from
    assert answers == [
        {"schema": partner_a.schema_name},
        {"schema": partner_b.schema_name},
        {"schema": "public"},
    ]
    for result in (from_a, from_b, from_public):
        result.forget()
