"""Benchmark: recordPurchase mutations over HTTP, next to pgbench's TPC-B.

Run with `./loyalty bench api`. The platform runs the way the README runs it in
production: `loyalty serve` (gunicorn) as its own process on a free loopback
port, DEBUG off, a SECRET_KEY, DATABASE_URL pointing at the benchmark's test
database, REDIS_URL at the tests' Redis with a Celery worker and beat beside it
(docs/operations.md; BENCH_API_BROKER=none for the demo's in-process jobs). 16
clients (4 processes x 4 threads), each with its own member and one keep-alive
connection, record purchases at partner alpha's host for SECONDS after a short
warm-up; throughput and p50/p99 latency are measured at the client.

The baseline is pgbench's TPC-B (16 clients, 2 threads, 10 s) on a scratch
database on the same PostgreSQL server in the same run: what the server does with
the simplest write transactions, for scale. With the embedded server (no
DATABASE_URL) the baseline is skipped.

Two workloads (BENCH_API_PROFILE): ``simple`` (default), a one-line receipt at a
partner with one base rate; ``demo``, the demo grocer's launch set-up: five-line
receipts (one line in an excluded category), base rate, category multiplier and
exclusions, a running double-points campaign, and the demo's four tier levels,
so every purchase also evaluates the member's tier (and upgrades some).

Workers and threads: WEB_CONCURRENCY / WEB_THREADS when set (like `loyalty
serve`), else the best setting found on the 2-core reference machine; database
connections persist (DATABASE_CONN_MAX_AGE, 60 s unless set); the per-key rate
limit is raised out of the way (BENCH_RATE_LIMIT: its count still runs). Prints a
table; asserts only that the work was really done (no timing thresholds: the
machine may be shared, so the load average is printed with the figures).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.tiers.models import TierLevel
from coalition.tiers.selectors import tier_code_of
from loyalty_graphql.auth import api_key_create
from tenants.earning import services as earning
from tenants.earning.models import Campaign
from tenants.earning.selectors import version_in_force
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tests.testkit import (
    PROJECT_ROOT,
    assert_on_test_database,
    database_url_of,
    free_port,
    subprocess_env,
)

CLIENTS = 16
CLIENT_PROCESSES = 4  # 4 threads each
LOAD_GENERATOR = f"load generator ({CLIENTS} clients)"
SECONDS = 12.0
WARM_UP_SECONDS = 2.0
START_TIMEOUT = 60.0
# Best on the 2-core reference machine (see the report in the issue): one worker
# process per core, threads to cover the time spent waiting for PostgreSQL.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8
# Persistent database connections (README: DATABASE_CONN_MAX_AGE). The default, 0,
# opens a connection per request: a backend fork and authentication each time,
# which halved the throughput here.
DEFAULT_CONN_MAX_AGE = 60
# Production runs a broker, a Celery worker and beat next to the web server
# (docs/operations.md): a request only publishes the jobs it queues (a tier change's
# e-mail, webhook deliveries), and the periodic jobs (sealing the ledger's chain,
# the rollups) run in the worker. So does this benchmark, on the tests' Redis (the
# database is emptied first), and counts the worker's and beat's CPU with the rest.
# BENCH_API_BROKER=none measures the demo's set-up instead: no broker, so jobs run
# in the request that queued them and the beat in the web server's master process.
BROKER = os.environ.get(
    "BENCH_API_BROKER", os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
)
JOBS = "Celery worker and beat"
# The one API key of the 16 clients may send more than the production default of
# LOYALTY_API_RATE_LIMIT (500 requests a second per key) in a fast second: on a
# quick host the runs that did failed with HTTP 429, so only the slower runs were
# ever reported. The limiter still counts every request (its cost is measured);
# it just never refuses one here.
BENCH_RATE_LIMIT = 1_000_000
BASELINE_SECONDS = 8  # pgbench before the purchases, and again after
TARGET_RATE = 250.0  # purchases per second
TARGET_P99_MS = 100.0
HOST = "alpha.localhost"
PROFILE = os.environ.get("BENCH_API_PROFILE", "simple")
DEMO_RULES: list[tuple[str, dict[str, Any]]] = [
    ("base_rate", {"rates": {"EUR": "1"}}),
    ("category_multiplier", {"category": "fresh", "multiplier": "2"}),
    ("exclude_categories", {"categories": ["gift_cards", "tobacco"]}),
]
DEMO_CAMPAIGN = "Double points fortnight"
DEMO_TIERS = (("blue", "Blue", 0), ("silver", "Silver", 2000), ("gold", "Gold", 5000),
              ("platinum", "Platinum", 15000))  # fmt: skip
# (sku, category, quantity, unit price) of the demo receipts
DEMO_LINES = (("APPLES", "fresh", 6, 45), ("RICE", "pantry", 2, 189), ("MILK", "dairy", 3, 99),
              ("CROISSANT", "bakery", 2, 125), ("CIGS", "tobacco", 1, 900))  # fmt: skip

PURCHASE = (
    "mutation($key: String!, $receipt: ReceiptInput!) {"
    " recordPurchase(idempotencyKey: $key, receipt: $receipt) {"
    " purchase { points balanceAfter } errors { code message } } }"
)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ok: int = 0  # every recorded purchase, warm-up included
    lock: threading.Lock = field(default_factory=threading.Lock)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds in the measured window


# --- where the CPU goes (Linux /proc; the server and PostgreSQL on this machine) ------


def _process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # gone, or not Linux
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                found.append(int(entry.name))
    return found


def _database_backends(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (the server's
    persistent connections), when PostgreSQL runs on this machine."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


def _cpu_snapshot(server: Server, backends: list[int]) -> dict[str, float]:
    def tree(pid: int) -> list[int]:
        return [pid, *_children(pid)]

    snapshot = {
        "server (gunicorn workers)": sum(
            _process_cpu_seconds(pid) for pid in tree(server.process.pid)
        ),
        "PostgreSQL backends": sum(_process_cpu_seconds(pid) for pid in backends),
    }
    if server.jobs:
        snapshot[JOBS] = sum(
            _process_cpu_seconds(pid) for job in server.jobs for pid in tree(job.pid)
        )
    return snapshot


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    threads: int
    conn_max_age: int
    jobs: list[subprocess.Popen[bytes]] = field(default_factory=list)  # Celery worker, beat
    jobs_note: str = ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _broker() -> tuple[str | None, str]:
    """The broker URL to run with (None: none), and what the report says of it."""
    if BROKER.strip().lower() in {"", "none"}:
        return None, "no broker (BENCH_API_BROKER=none): jobs run in the web server"
    import redis  # celery[redis]'s client

    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.flushdb()  # the tests' Redis: no job left from an earlier run
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return None, f"no broker: {BROKER} unreachable ({exc}); jobs run in the web server"
    return BROKER, f"broker {BROKER}, a Celery worker and beat (docs/operations.md)"


def _start_jobs(env: dict[str, str], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """The Celery worker and beat, once the worker is ready to take jobs (its
    start-up must not fall in the measured window)."""
    celery = [sys.executable, "-m", "celery", "-A", "loyalty_platform"]
    worker_log = log_dir / "worker.log"
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            [*celery, "worker", "-l", "info", "--without-heartbeat", "--without-gossip",
             "--without-mingle"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    with (log_dir / "beat.log").open("wb") as out:
        beat = subprocess.Popen(
            [*celery, "beat", "-l", "warning", "-s", str(log_dir / "beat-schedule")],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if worker.poll() is not None or beat.poll() is not None:
            _stop_processes([worker, beat])
            pytest.fail(f"Celery exited:\n{worker_log.read_text(errors='replace')[-4000:]}")
        if " ready." in worker_log.read_text(errors="replace"):
            return [worker, beat]
        time.sleep(0.2)
    _stop_processes([worker, beat])
    pytest.fail(f"Celery worker not ready:\n{worker_log.read_text(errors='replace')[-4000:]}")


def _stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()  # gunicorn's and Celery's graceful shutdown
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _start_server(database_url: str, log_dir: Path) -> Server:
    port = free_port()
    workers = _setting("WEB_CONCURRENCY", DEFAULT_WORKERS)
    threads = _setting("WEB_THREADS", DEFAULT_THREADS)
    conn_max_age = _setting("DATABASE_CONN_MAX_AGE", DEFAULT_CONN_MAX_AGE)
    log = log_dir / "serve.log"
    broker, jobs_note = _broker()
    env = subprocess_env(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_CONN_MAX_AGE=str(conn_max_age),
        LOYALTY_API_RATE_LIMIT=str(BENCH_RATE_LIMIT),
        **({"REDIS_URL": broker} if broker else {}),
    )
    jobs = _start_jobs(env, log_dir) if broker else []
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "loyalty_platform.cli", "serve",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--threads", str(threads),
            ],
            cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, port, log, workers, threads, conn_max_age, jobs, jobs_note)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"loyalty serve exited with {process.returncode}:\n{server.log_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": HOST})
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            pass
        time.sleep(0.2)
    _stop_server(server)
    pytest.fail(f"loyalty serve not healthy within {START_TIMEOUT:.0f} s:\n{server.log_text()}")


def _stop_server(server: Server) -> None:
    _stop_processes([server.process, *server.jobs])


def _purchase_body(n: int, external_id: str, member_number: str) -> str:
    if PROFILE == "demo":
        return _demo_body(external_id, member_number)
    return json.dumps(
        {
            "query": PURCHASE,
            "variables": {
                "key": external_id,
                "receipt": {
                    "externalId": external_id,
                    "memberNumber": member_number,
                    "occurredAt": timezone.now().isoformat(),
                    "currency": "EUR",
                    "total": 2500 + n % 100,
                    "lines": [
                        {"sku": f"SKU-{n % 7}", "category": "fresh", "quantity": 1,
                         "unitPrice": 2500 + n % 100},
                    ],
                },
            },
        }
    )  # fmt: skip


def _client(
    number: int, port: int, key: str, member_number: str, run: str, clock: tuple[float, float]
) -> tuple[list[float], list[str], int]:
    """One keep-alive client posting purchases until the end of the clock; the
    latencies of the measured window, the errors, and how many purchases it made."""
    start, end = clock
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Host": HOST,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
    }
    latencies: list[float] = []
    errors: list[str] = []
    ok = n = 0
    while time.monotonic() < end and len(errors) < 5:
        external_id = f"{run}-{number}-{n}"
        body = _purchase_body(n, external_id, member_number)
        started = time.monotonic()
        try:
            conn.request("POST", "/graphql", body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            continue
        elapsed = time.monotonic() - started
        n += 1
        if response.status != 200:
            errors.append(f"HTTP {response.status}: {text[:300]!r}")
            continue
        payload = json.loads(text)["data"]["recordPurchase"]
        if payload["errors"] or not payload["purchase"]["points"]:
            errors.append(f"{payload}")
            continue
        ok += 1
        if started >= start:
            latencies.append(elapsed)
    conn.close()

    return latencies, errors, ok


def _client_process(
    numbers: list[int], port: int, key: str, members: list[str], run: str,
    clock: tuple[float, float], answer: Any,
) -> None:  # fmt: skip
    """A load-generator process: a thread per client, and the CPU it used in the
    measured window. Several processes, not 16 threads in one: a thread waiting
    for the GIL after its answer arrived would add its wait to the latency."""
    found: list[tuple[list[float], list[str], int]] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        result = _client(number, port, key, members[number], run, clock)
        with lock:
            found.append(result)

    threads = [threading.Thread(target=work, args=(number,)) for number in numbers]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, clock[0] - time.monotonic()))
    before = os.times()
    time.sleep(max(0.0, clock[1] - time.monotonic()))
    after = os.times()
    for thread in threads:
        thread.join()
    cpu = (after.user + after.system) - (before.user + before.system)
    answer.send((found, cpu))
    answer.close()


def _run_clients(
    server: Server, database_url: str, key: str, members: list[str], run: str,
    seconds: float = SECONDS,
) -> tuple[Results, float]:  # fmt: skip
    """CLIENTS clients (in CLIENT_PROCESSES processes) post purchases until the
    deadline; returns what they saw and the measured seconds (latencies of the
    warm-up are not kept), with the CPU time the server, its database backends
    and the clients used meanwhile."""
    results = Results()
    start = time.monotonic() + WARM_UP_SECONDS + 1.0  # + the processes' start
    clock = (start, start + seconds)
    context = multiprocessing.get_context("fork")
    processes = []
    for index in range(CLIENT_PROCESSES):
        receive, send = context.Pipe(duplex=False)
        numbers = list(range(index, CLIENTS, CLIENT_PROCESSES))
        process = context.Process(
            target=_client_process,
            args=(numbers, server.port, key, members, run, clock, send),
        )
        process.start()
        send.close()
        processes.append((process, receive))
    time.sleep(max(0.0, clock[0] - time.monotonic()))
    backends = _database_backends(database_url)
    before = _cpu_snapshot(server, backends)
    time.sleep(max(0.0, clock[1] - time.monotonic()))
    after = _cpu_snapshot(server, backends)
    results.cpu = {name: after[name] - before[name] for name in after}
    clients_cpu = 0.0
    for process, receive in processes:
        found, cpu = receive.recv()
        process.join(timeout=60)
        clients_cpu += cpu
        for latencies, errors, ok in found:
            results.latencies.extend(latencies)
            results.errors.extend(errors)
            results.ok += ok
    results.cpu[LOAD_GENERATOR] = clients_cpu
    return results, seconds


def _demo_body(external_id: str, member_number: str) -> str:
    lines = [
        {"sku": sku, "category": category, "quantity": quantity, "unitPrice": price}
        for sku, category, quantity, price in DEMO_LINES
    ]
    total = sum(quantity * price for _, _, quantity, price in DEMO_LINES)
    receipt = {"externalId": external_id, "memberNumber": member_number,
               "occurredAt": timezone.now().isoformat(), "currency": "EUR", "total": total,
               "lines": lines}  # fmt: skip
    return json.dumps({"query": PURCHASE, "variables": {"key": external_id, "receipt": receipt}})


def _set_up_profile(partner: Partner, now: Any) -> None:
    """The partner's rules (and for ``demo`` its campaign and the tier levels)."""
    if PROFILE not in {"simple", "demo"}:
        pytest.fail(f"BENCH_API_PROFILE must be simple or demo, not {PROFILE!r}")
    rules = DEMO_RULES if PROFILE == "demo" else [("base_rate", {"rates": {"EUR": "1"}})]
    with tenant_context(partner):
        if version_in_force(now) is None:
            version = earning.ruleset_draft_create(description=f"bench api {PROFILE}")
            for kind, params in rules:
                earning.rule_add(version=version, kind=kind, params=params)
            earning.ruleset_publish(version=version, effective_from=now, now=now)
        if PROFILE == "demo" and not Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
            # budgeted like the demo's (its points are counted in budget buckets),
            # with enough budget for every run; once per test database (its partner
            # schemas outlive a test: a second one made every later test's purchases
            # take two budgets in turn)
            earning.campaign_create(
                name=DEMO_CAMPAIGN, kind="multiplier", params={"multiplier": "2"},
                starts_at=now, ends_at=now + timedelta(days=14), budget_points=100_000_000,
            )  # fmt: skip
    if PROFILE == "demo":
        for rank, (code, name, threshold) in enumerate(DEMO_TIERS):
            TierLevel.objects.get_or_create(
                code=code, defaults={"name": name, "rank": rank, "threshold_points": threshold}
            )


@dataclass(frozen=True)
class Baseline:
    tps: float | None
    latency_ms: float | None
    note: str


def _pgbench_baseline(seconds: int) -> Baseline:
    """pgbench TPC-B on a scratch database on the same server, dropped after."""
    pgbench = shutil.which("pgbench")
    if not os.environ.get("DATABASE_URL"):
        return Baseline(None, None, "skipped: the embedded PostgreSQL has no pgbench")
    if pgbench is None:
        return Baseline(None, None, "skipped: pgbench is not installed")
    db = connection.settings_dict
    args = ["-h", str(db.get("HOST") or "localhost"), "-p", str(db.get("PORT") or "5432"),
            "-U", str(db.get("USER") or "postgres")]  # fmt: skip
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    scratch = f"bench_pgbench_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(
            [pgbench, "-i", "-s", "1", "-q", *args, scratch],
            env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        output = subprocess.run(
            [pgbench, "-c", "16", "-j", "2", "-T", str(seconds), *args, scratch],
            env=env, check=True, capture_output=True, text=True, timeout=120,
        ).stdout  # fmt: skip
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output) or re.search(
        r"tps = ([\d.]+)", output
    )
    latency = re.search(r"latency average = ([\d.]+) ms", output)
    assert tps, output
    return Baseline(
        float(tps.group(1)),
        float(latency.group(1)) if latency else None,
        f"pgbench TPC-B -s 1 -c 16 -j 2 -T {seconds}, same server",
    )


def _mean_baseline(before: Baseline, after: Baseline) -> Baseline:
    """TPC-B just before the purchases and just after, averaged: the host's speed
    drifts within minutes (TPC-B moved by a quarter between runs here), and a
    baseline measured on one side only moved the ratio with it."""
    if before.tps is None or after.tps is None:
        return before
    latency = (
        (before.latency_ms + after.latency_ms) / 2
        if before.latency_ms is not None and after.latency_ms is not None
        else None
    )
    return Baseline(
        (before.tps + after.tps) / 2,
        latency,
        f"{before.note}, {BASELINE_SECONDS} s before the purchases ({before.tps:,.0f} tps) and "
        f"{BASELINE_SECONDS} s after ({after.tps:,.0f} tps), averaged",
    )


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def test_this_module_runs_on_the_test_database(db: None) -> None:
    assert_on_test_database()


def test_record_purchase_over_http_next_to_pgbench(live_db: Any, partner_a: Partner) -> None:
    assert_on_test_database()
    run = uuid.uuid4().hex[:8]
    now = timezone.now()
    _set_up_profile(partner_a, now)
    _, key = api_key_create(name=f"bench {run}", scopes=["earn"], partner=partner_a)
    members = [
        member_enrol(email=f"bench-api-{run}-{i}@example.com").member_number for i in range(CLIENTS)
    ]
    baseline_before = _pgbench_baseline(BASELINE_SECONDS)
    connection.close()  # the server's workers take the connections from here

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as log_dir:
        database_url = database_url_of(connection.settings_dict)
        server = _start_server(database_url, Path(log_dir))
        try:
            results, seconds = _run_clients(server, database_url, key, members, run)
        finally:
            _stop_server(server)
            log = server.log_text()
    load_after = os.getloadavg()
    assert not results.errors, (results.errors[:5], log)

    baseline = _mean_baseline(baseline_before, _pgbench_baseline(BASELINE_SECONDS))

    with tenant_context(partner_a):
        recorded = Purchase.objects.filter(external_id__startswith=f"{run}-").count()
    assert recorded == results.ok
    assert results.latencies
    if PROFILE == "demo":
        # every member crossed silver's threshold early on: the upgrades ran (in the
        # Celery worker when there is a broker)
        levels = {tier_code_of(Member.objects.get(member_number=number).pk) for number in members}
        assert levels.isdisjoint({None, DEMO_TIERS[0][0]}), levels

    rate = len(results.latencies) / seconds
    p50, p99 = _p(results.latencies, 0.5), _p(results.latencies, 0.99)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version_text = cursor.fetchone()[0].split()[0]

    def met(ok: bool) -> str:
        return "yes" if ok else "NO"

    tps = f"{baseline.tps:,.0f} tps" if baseline.tps is not None else "skipped"
    latency = f"{baseline.latency_ms:.1f} (avg)" if baseline.latency_ms is not None else "-"
    rows = [
        ("metric", "value", "baseline", "target", "met?"),
        ("throughput (purchases/s)", f"{rate:,.0f}", tps, f">= {TARGET_RATE:.0f}",
         met(rate >= TARGET_RATE)),
        ("p50 latency (ms)", f"{p50:.1f}", latency, "-", "-"),
        ("p90 latency (ms)", f"{_p(results.latencies, 0.9):.1f}", "-", "-", "-"),
        ("p99 latency (ms)", f"{p99:.1f}", "-", f"< {TARGET_P99_MS:.0f}",
         met(p99 < TARGET_P99_MS)),
        ("max latency (ms)", f"{max(results.latencies) * 1000:.1f}", "-", "-", "-"),
        ("ratio to TPC-B", f"{rate / baseline.tps:.3f}" if baseline.tps else "-", "-",
         "-", "-"),
        ("purchases recorded", f"{recorded:,}", "-", "-", "-"),
    ]  # fmt: skip
    print()
    print(
        f"API benchmark ({PROFILE} workload): recordPurchase over HTTP, `loyalty serve` (gunicorn, "
        f"{server.workers} workers x {server.threads} threads, DATABASE_CONN_MAX_AGE="
        f"{server.conn_max_age}), {CLIENTS} keep-alive clients, {seconds:.0f} s after "
        f"{WARM_UP_SECONDS:.0f} s warm-up; PostgreSQL {version_text}"
    )
    print(
        f"machine: {os.cpu_count()} cores; load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.2f}' for x in load_before)}, after "
        f"{'/'.join(f'{x:.2f}' for x in load_after)}"
    )
    print(f"baseline: {baseline.note}")
    print(f"jobs: {server.jobs_note}")
    for row in rows:
        print(f"{row[0]:<26} | {row[1]:>10} | {row[2]:>14} | {row[3]:>8} | {row[4]:>4}")
    measured = len(results.latencies)
    total = sum(results.cpu.values())
    print(f"where the CPU goes ({measured:,} purchases in the measured {seconds:.0f} s):")
    for name, cpu in results.cpu.items():
        print(f"  {name:<36} {cpu * 1000 / measured:6.2f} ms per purchase")
    print(
        f"  {'all of them':<36} {total * 1000 / measured:6.2f} ms per purchase -> about "
        f"{(os.cpu_count() or 1) * measured / total:,.0f} purchases/s if {os.cpu_count()} "
        "CPUs did nothing else"
    )


# --- does a purchase cost more for a member with a long history? ------------------------

HISTORY_SIZES = (10, 1_000)
HISTORY_SECONDS = 8.0
HISTORY_YEARS = 3  # the earlier purchases are spread over the last three years

# Earlier purchases of the given members, as recording would have left them but in
# one statement: the purchases at the partner, their journal earns (header, wallet
# and issuance entries, lot; the qualifying months follow by the ledger's trigger)
# and the wallets' balances.
_HISTORY_SQL = """
WITH items AS (
  SELECT m.member_id, g.i, %(now)s::timestamptz - g.i * %(spacing)s::interval AS at,
         10 + g.i %% 7 AS points
    FROM unnest(%(members)s::bigint[]) AS m(member_id),
         generate_series(1, %(count)s::int) AS g(i)
), headers AS (
  INSERT INTO public.ledger_transaction
    (kind, partner_id, member_id, points, external_ref, memo, request_hash, result, created_at)
  SELECT 'earn', %(partner)s, member_id, points, %(run)s || '-h-' || member_id || '-' || i,
         'purchase', '', '{{}}'::jsonb, at
    FROM items
  RETURNING id, member_id, points, created_at, external_ref
), entries AS (
  INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
  SELECT h.id, w.id, h.points FROM headers h
    JOIN public.ledger_account w ON w.kind = 'wallet' AND w.member_id = h.member_id
  UNION ALL
  SELECT h.id, i.id, -h.points FROM headers h
    JOIN public.ledger_account i ON i.kind = 'issuance' AND i.partner_id = %(partner)s
), lots AS (
  INSERT INTO public.ledger_lot
    (member_id, issuer_id, transaction_id, earned_at, expires_at, points, remaining)
  SELECT member_id, %(partner)s, id, created_at, NULL, points, points FROM headers
), purchases AS (
  INSERT INTO {s}.purchases_purchase
    (external_id, member_id, channel, occurred_at, currency, total, tax, tip,
     paid_with_points, rule_points, campaign_points, points_awarded, points_reversed,
     breakdown, ledger_transaction_id, request_hash, created_at)
  SELECT external_ref, member_id, 'pos', created_at, 'EUR', points * 100, 0, 0, 0, points, 0,
         points, 0, '{{}}'::jsonb, id, '-', created_at
    FROM headers
), wallets AS (
  UPDATE public.ledger_account w SET balance = w.balance + t.total
    FROM (SELECT member_id, sum(points) AS total FROM items GROUP BY member_id) t
   WHERE w.kind = 'wallet' AND w.member_id = t.member_id
)
SELECT count(*) FROM headers
"""


def _seed_history(partner: Partner, member_ids: list[int], count: int, run: str) -> None:
    """``count`` earlier purchases per member, spread over the last HISTORY_YEARS."""
    from coalition.ledger.services import partner_accounts_ensure

    partner_accounts_ensure(partner.pk)
    spacing = timedelta(days=365 * HISTORY_YEARS) / count
    with connection.cursor() as cursor:
        cursor.execute(
            _HISTORY_SQL.format(s=f'"{partner.schema_name}"'),
            {"now": timezone.now(), "spacing": spacing, "members": member_ids, "count": count,
             "partner": partner.pk, "run": run},
        )  # fmt: skip
        assert cursor.fetchone()[0] == count * len(member_ids)
        cursor.execute(
            "ANALYZE public.ledger_transaction, public.ledger_entry, public.ledger_lot,"
            f' public.tiers_qualifyingmonth, "{partner.schema_name}".purchases_purchase'
        )


def test_purchase_cost_does_not_grow_with_the_members_history(
    live_db: Any, partner_a: Partner
) -> None:
    """The same load for members with 10 and with 1,000 earlier purchases each:
    PostgreSQL's CPU per purchase should not grow with the history (the tier check
    reads the members' qualifying months, not their journal)."""
    assert_on_test_database()
    run = uuid.uuid4().hex[:8]
    _set_up_profile(partner_a, timezone.now())
    _, key = api_key_create(name=f"bench history {run}", scopes=["earn"], partner=partner_a)
    cohorts: dict[int, list[Member]] = {}
    for count in HISTORY_SIZES:
        cohorts[count] = [
            member_enrol(email=f"bench-history-{run}-{count}-{i}@example.com")
            for i in range(CLIENTS)
        ]
        _seed_history(partner_a, [m.pk for m in cohorts[count]], count, run)
    connection.close()  # the server's workers take the connections from here

    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-api-history-") as log_dir:
        database_url = database_url_of(connection.settings_dict)
        server = _start_server(database_url, Path(log_dir))
        try:
            for count in HISTORY_SIZES:
                numbers = [m.member_number for m in cohorts[count]]
                results, seconds = _run_clients(
                    server, database_url, key, numbers, f"{run}-{count}", HISTORY_SECONDS
                )
                lines.append((count, results, seconds))
        finally:
            _stop_server(server)
            log = server.log_text()
    for _, results, _ in lines:
        assert not results.errors, (results.errors[:5], log)
        assert results.latencies

    print()
    print(
        f"API benchmark ({PROFILE} workload) by history: the same {CLIENTS} clients, "
        f"{HISTORY_SECONDS:.0f} s each, members with N earlier purchases over the last "
        f"{HISTORY_YEARS} years; load average now "
        f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'earlier purchases':>18} | {'purchases/s':>11} | {'p50 ms':>7} | {'p99 ms':>7} | "
          f"{'PostgreSQL CPU ms/purchase':>26} | {'server CPU ms/purchase':>22}")  # fmt: skip
    for count, results, seconds in lines:
        measured = len(results.latencies)
        postgres = results.cpu["PostgreSQL backends"] * 1000 / measured
        web = results.cpu["server (gunicorn workers)"] * 1000 / measured
        print(
            f"{count:>18,} | {measured / seconds:>11,.0f} | {_p(results.latencies, 0.5):>7.1f} | "
            f"{_p(results.latencies, 0.99):>7.1f} | {postgres:>26.2f} | {web:>22.2f}"
        )
