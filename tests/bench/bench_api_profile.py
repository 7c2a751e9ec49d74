"""Profile: where one recordPurchase costs CPU, in-process (no HTTP server).

Run with `./loyalty bench api_profile` (``BENCH_API_PROFILE=demo`` for the demo
grocer's set-up, as in `bench api`). One client records PURCHASES purchases
through Django's test client (middleware, GraphQL, services: what a gunicorn
worker runs) after a warm-up, and prints the wall and CPU time per purchase (this
process and its PostgreSQL backend), the database's buffer accesses per purchase
(not moved by the machine's load; the reconnect that flushes the counters adds its
catalog reads, about 10 per purchase over 400), the statements each one sends, and
cProfile's top functions by cumulative time with the function calls made (also
independent of the machine's load). ``BENCH_PROFILER=pyinstrument`` samples
instead (pip install pyinstrument), ``BENCH_PROFILER=none`` skips the profile.
``BENCH_PROFILE_TOP`` sets how many functions are listed (default 40),
``BENCH_PROFILE_SORT`` their order (default cumulative) and ``BENCH_PROFILE_DUMP``
a file for the whole profile (pstats). The profile counts CPU time, not waiting.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import time
import uuid
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.members.services import member_enrol
from loyalty_graphql.auth import api_key_create
from tenants.partners.models import Partner
from tests.bench.bench_api import (
    HOST,
    PROFILE,
    _process_cpu_seconds,
    _purchase_body,
    _set_up_profile,
)
from tests.testkit import assert_on_test_database

PURCHASES = int(os.environ.get("BENCH_PROFILE_PURCHASES", "400"))
WARM_UP = 50
MEMBERS = 16


def _blocks_touched() -> int:
    """Buffer accesses (hits and reads) in this database so far: unlike CPU time,
    not moved by the machine's load (the new backend's catalog reads add a few)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    connection.close()  # a backend flushes its counters when it goes idle or ends
    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT blks_hit + blks_read FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(cursor.fetchone()[0])


class _CollectorClock:
    """Time spent in the garbage collector, per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._started
            self.runs[info["generation"]] += 1

    def __enter__(self) -> _CollectorClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    def summary(self, purchases: int) -> str:
        parts = ", ".join(
            f"gen{g} {self.runs[g]}x {self.seconds[g] * 1000 / purchases:.2f} ms" for g in range(3)
        )
        return (
            f"garbage collection {sum(self.seconds) * 1000 / purchases:.2f} ms CPU per purchase "
            f"({parts}; objects tracked after: {len(gc.get_objects()):,}, "
            f"frozen: {gc.get_freeze_count():,})"
        )


def test_record_purchase_profile(live_db: Any, partner_a: Partner) -> None:
    assert_on_test_database()
    run = uuid.uuid4().hex[:8]
    _set_up_profile(partner_a, timezone.now())
    _, key = api_key_create(name=f"profile {run}", scopes=["earn"], partner=partner_a)
    members = [
        member_enrol(email=f"profile-{run}-{i}@example.com").member_number for i in range(MEMBERS)
    ]
    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {key}")

    def purchase(n: int) -> None:
        body = _purchase_body(n, f"{run}-{n}", members[n % MEMBERS])
        response = client.post("/graphql", body, content_type="application/json")
        assert response.status_code == 200, response.content
        payload = json.loads(response.content)["data"]["recordPurchase"]
        assert not payload["errors"], payload
        assert payload["purchase"]["points"], payload

    for n in range(WARM_UP):
        purchase(n)
    with CaptureQueriesContext(connection) as queries:
        purchase(WARM_UP)
    statements = [q["sql"].split()[0:3] for q in queries.captured_queries]

    blocks = _blocks_touched()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    started, cpu = time.perf_counter(), time.process_time()
    backend_cpu = _process_cpu_seconds(backend)
    with _CollectorClock() as collector:
        for n in range(WARM_UP + 1, WARM_UP + 1 + PURCHASES):
            purchase(n)
    wall = (time.perf_counter() - started) * 1000 / PURCHASES
    cpu_ms = (time.process_time() - cpu) * 1000 / PURCHASES
    backend_ms = (_process_cpu_seconds(backend) - backend_cpu) * 1000 / PURCHASES
    blocks_per_purchase = (_blocks_touched() - blocks) / PURCHASES

    out = io.StringIO()
    if os.environ.get("BENCH_PROFILER") == "none":
        pass
    elif os.environ.get("BENCH_PROFILER") == "pyinstrument":  # sampling: fairer proportions
        from pyinstrument import Profiler  # not a dependency: pip install pyinstrument

        sampler = Profiler(interval=0.0002)
        sampler.start()
        for n in range(WARM_UP + 1 + PURCHASES, WARM_UP + 1 + 2 * PURCHASES):
            purchase(n)
        sampler.stop()
        out.write(
            sampler.output_text(
                color=False, show_all=bool(os.environ.get("BENCH_PROFILE_ALL")), short_mode=False
            )
        )
    else:
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        profiler.enable()
        for n in range(WARM_UP + 1 + PURCHASES, WARM_UP + 1 + 2 * PURCHASES):
            purchase(n)
        profiler.disable()
        if os.environ.get("BENCH_PROFILE_DUMP"):
            profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_TOP", "40")))
    print()
    print(
        f"in-process recordPurchase ({PROFILE} workload), {PURCHASES} purchases by one client: "
        f"{wall:.2f} ms wall, {cpu_ms:.2f} ms CPU of this process and {backend_ms:.2f} ms of its "
        f"PostgreSQL backend (0 if not on this machine) per purchase; "
        f"{blocks_per_purchase:.1f} buffer accesses per purchase; "
        f"{len(statements)} statements: {statements}"
    )
    print(collector.summary(PURCHASES))
    print(out.getvalue())


def test_record_purchase_statements(live_db: Any, partner_a: Partner) -> None:
    """What PostgreSQL does for one purchase: each statement's plan with its
    timing (auto_explain, sent to this client) and, for the prepared statements
    of this connection, how often each was planned afresh (custom plans)."""
    assert_on_test_database()
    run = uuid.uuid4().hex[:8]
    _set_up_profile(partner_a, timezone.now())
    _, key = api_key_create(name=f"explain {run}", scopes=["earn"], partner=partner_a)
    member = member_enrol(email=f"explain-{run}@example.com").member_number
    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {key}")

    def purchase(n: int) -> None:
        body = _purchase_body(n, f"{run}-{n}", member)
        response = client.post("/graphql", body, content_type="application/json")
        assert response.status_code == 200, response.content

    for n in range(20):
        purchase(n)
    connection.ensure_connection()
    driver = connection.connection
    notices: list[str] = []
    driver.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET auto_explain.log_min_duration = 0")
        cursor.execute("SET auto_explain.log_analyze = on")
        cursor.execute("SET auto_explain.log_buffers = on")
        cursor.execute("SET auto_explain.log_nested_statements = on")
        cursor.execute("SET client_min_messages = log")
    purchase(20)
    with connection.cursor() as cursor:
        cursor.execute("SET client_min_messages = notice")
        cursor.execute("SET auto_explain.log_min_duration = -1")
        cursor.execute(
            "SELECT generic_plans, custom_plans, left(regexp_replace(statement, '\\s+', ' ', 'g'),"
            " 90) FROM pg_prepared_statements ORDER BY custom_plans DESC"
        )
        prepared = cursor.fetchall()
    print()
    for text in notices:
        print(text)
        print("-" * 60)
    print("prepared statements of this connection (generic plans, custom plans, statement):")
    for row in prepared:
        print(f"  {row[0]:>5} {row[1]:>5}  {row[2]}")
