"""Fault injection: purchases over HTTP while PostgreSQL, a web worker and Redis are
killed with SIGKILL and restarted.

The test owns every server it harms (``tests.testkit.servers``): a PostgreSQL on a
data folder of its own, a Redis, and `loyalty serve` (gunicorn, 2 workers) between
them, all on loopback ports. Client threads record purchases with unique
idempotency keys; whatever was not acknowledged is sent again, same key and same
body, once everything is back. Then:

- nothing acknowledged was lost, and every key ends acknowledged;
- nothing was posted twice (one purchase and one ledger transaction per key, and
  the wallets hold exactly the points acknowledged);
- every answer that was not a success was a typed JSON error or a 503 (a dropped
  connection only from the web worker that was killed);
- purchases kept succeeding while Redis was down;
- `loyalty verify-ledger --seal-first` finds the ledger intact.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.testkit import PROJECT_ROOT
from tests.testkit.servers import (
    OwnPostgres,
    OwnRedis,
    WebServer,
    log_tail,
    project_env,
    secret_key,
)

CLIENTS = 4
PAUSE = 0.03  # between one client's requests: load, not a benchmark
REQUEST_TIMEOUT = 20.0
OUTAGE_SECONDS = 2.5
PHASE_TIMEOUT = 20.0
RETRY_ATTEMPTS = 5
RETRY_SECONDS = 30.0
SLUG = "faultmart"
INTERNAL_CODES = {"internal", "INTERNAL", "INTERNAL_SERVER_ERROR"}

PURCHASE = (
    "mutation($key: String!, $receipt: ReceiptInput!) {"
    " recordPurchase(idempotencyKey: $key, receipt: $receipt) {"
    " purchase { externalId points balanceAfter } errors { code message } } }"
)

# What a client may see in each phase, besides a success.
STEADY = "steady"
WORKER_KILLED = "web worker killed"
DATABASE_DOWN = "database killed"
REDIS_DOWN = "redis killed"
RETRY = "retry"
ALLOWED: dict[str, set[str]] = {
    STEADY: set(),
    # Requests in flight in the killed worker lose their connection.
    WORKER_KILLED: {"dropped"},
    DATABASE_DOWN: {"typed", "unavailable"},
    # The rate limiter and the broker live in Redis; a purchase needs neither.
    REDIS_DOWN: set(),
    RETRY: set(),
}


@dataclass
class Outcome:
    key: str
    phases: tuple[str, str]  # when sent, when answered
    kind: str  # ack, typed, unavailable, dropped, untyped, changed on replay
    status: int | None
    detail: str
    points: int | None = None


@dataclass
class Seen:
    """What the clients saw, shared by their threads."""

    phase: str = STEADY
    bodies: dict[str, bytes] = field(default_factory=dict)  # key -> the exact body sent
    acked: dict[str, int] = field(default_factory=dict)  # key -> points acknowledged
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acks(self) -> int:
        with self.lock:
            return len(self.acked)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if outcome.kind == "ack":
                assert outcome.points is not None
                previous = self.acked.setdefault(outcome.key, outcome.points)
                # the same key must always answer the same purchase
                if previous != outcome.points:
                    self.outcomes.append(
                        Outcome(outcome.key, outcome.phases, "changed on replay", outcome.status,
                                f"answered {outcome.points} points, earlier {previous}")
                    )  # fmt: skip

    def unacknowledged(self) -> list[str]:
        with self.lock:
            return [key for key in self.bodies if key not in self.acked]

    def problems(self) -> list[Outcome]:
        with self.lock:
            return [
                o for o in self.outcomes
                if o.kind != "ack"
                and o.kind not in ALLOWED[o.phases[0]] | ALLOWED[o.phases[1]]
            ]  # fmt: skip

    def summary(self) -> str:
        with self.lock:
            counts = Counter(f"{o.phases[0]}: {o.kind}" for o in self.outcomes)
        return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items()))


def _classify(status: int, content_type: str, raw: bytes) -> tuple[str, str, int | None]:
    """(kind, detail, points) of one HTTP answer."""
    detail = f"HTTP {status} {content_type}: {raw[:300]!r}"
    try:
        body = json.loads(raw) if "json" in content_type else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ("unavailable" if status == 503 else "untyped"), detail, None
    errors = list(body.get("errors") or [])
    payload = (body.get("data") or {}).get("recordPurchase") or {}
    purchase = payload.get("purchase")
    if status == 200 and not errors and not payload.get("errors") and purchase:
        return "ack", detail, int(purchase["points"])
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    codes += [e.get("code") for e in payload.get("errors") or []]
    if codes and all(code and code not in INTERNAL_CODES for code in codes):
        return "typed", detail, None
    return ("unavailable" if status == 503 else "untyped"), detail, None


def _send(
    port: int, host: str, key_text: str, body: bytes
) -> tuple[str, int | None, str, int | None]:
    """One request on a connection of its own (no keep-alive: a connection the
    server closed while idle would look like a fault)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    headers = {"Host": host, "Content-Type": "application/json",
               "Authorization": f"Bearer {key_text}"}  # fmt: skip
    try:
        conn.request("POST", "/graphql", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return "dropped", None, f"{type(exc).__name__}: {exc}", None
    finally:
        conn.close()
    kind, detail, points = _classify(response.status, response.getheader("Content-Type", ""), raw)
    return kind, response.status, detail, points


def _body(key: str, member_number: str, n: int) -> bytes:
    total = 1000 + (n * 37) % 900
    receipt = {
        "externalId": key,
        "memberNumber": member_number,
        "occurredAt": datetime.now(UTC).isoformat(),
        "currency": "EUR",
        "total": total,
        "lines": [{"sku": f"SKU-{n % 5}", "category": "grocery", "quantity": 1,
                   "unitPrice": total}],
    }  # fmt: skip
    return json.dumps({"query": PURCHASE, "variables": {"key": key, "receipt": receipt}}).encode()


def _client(
    number: int, seeded: dict[str, Any], port: int, run: str, seen: Seen,
    stop: threading.Event,
) -> None:  # fmt: skip
    member = seeded["members"][number]
    n = 0
    while not stop.is_set():
        key = f"{run}-{number}-{n}"
        body = _body(key, member, n)
        n += 1
        with seen.lock:
            seen.bodies[key] = body
            sent_in = seen.phase
        kind, status, detail, points = _send(port, seeded["host"], seeded["key"], body)
        seen.record(Outcome(key, (sent_in, seen.phase), kind, status, detail, points))
        stop.wait(PAUSE)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{log_tail(log)}")
        time.sleep(0.05)


def _acks_grow_by(seen: Seen, count: int, timeout: float, what: str, log: Path) -> None:
    target = seen.acks() + count
    _wait_for(lambda: seen.acks() >= target, timeout, what, log)


def _redis_or_skip() -> None:
    if OwnRedis.binary() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; CI must run the fault-injection test")
        pytest.skip("redis-server is not installed")


@dataclass
class Platform:
    folder: Path
    postgres: OwnPostgres
    redis: OwnRedis
    web: WebServer
    seeded: dict[str, Any]

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{log_tail(path, 3000)}"
            for path in (self.web.log, self.postgres.log, self.redis.log)
        )

    def loyalty(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "loyalty_platform.cli", *args],
            cwd=PROJECT_ROOT, env=self.web.env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip


@pytest.fixture
def stack() -> Iterator[Platform]:
    """Own PostgreSQL (migrated and seeded), own Redis, and `loyalty serve` on them."""
    _redis_or_skip()
    # Not pytest's tmp_path: PostgreSQL runs as another user, which must reach it.
    folder = Path(tempfile.mkdtemp(prefix="loyalty-faults-"))
    postgres = OwnPostgres(folder / "postgres")
    postgres.folder.mkdir()
    redis = OwnRedis(folder)
    env = project_env(
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        SECRET_KEY=secret_key(),
        # production settings: persistent connections (they must survive the
        # database's restart), and a short connect timeout
        DATABASE_CONN_MAX_AGE="60",
        DATABASE_CONNECT_TIMEOUT="2",
        LOG_LEVEL="WARNING",
        ACCESS_LOG=str(folder / "access.log"),
    )
    web = WebServer(folder, env)
    try:
        postgres.init()
        redis.start()
        stack = Platform(folder, postgres, redis, web, {})
        seeded = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "tests" / "testkit" / "fault_seed.py"),
             SLUG, str(CLIENTS)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        stack.seeded = json.loads(seeded.stdout.strip().splitlines()[-1])
        web.start()
        yield stack
    finally:
        web.stop()
        redis.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _grouped(problems: list[Outcome]) -> str:
    """One example of each kind of problem, with how often it happened."""
    groups: dict[tuple[str, str, str, int | None, str], list[Outcome]] = {}
    for o in problems:
        groups.setdefault((*o.phases, o.kind, o.status, o.detail[:60]), []).append(o)
    return "\n".join(
        f"{len(found)} x [{o.phases[0]} -> {o.phases[1]}] {o.kind}: {o.detail}"
        for found in groups.values()
        for o in found[:1]
    )


def _retry_unacknowledged(stack: Platform, seen: Seen) -> None:
    """Send every unacknowledged request again, same key and same body, until it
    is acknowledged (bounded attempts and time)."""
    deadline = time.monotonic() + RETRY_SECONDS
    for _ in range(RETRY_ATTEMPTS):
        pending = seen.unacknowledged()
        if not pending or time.monotonic() > deadline:
            return
        for key in pending:
            kind, status, detail, points = _send(
                stack.web.port, stack.seeded["host"], stack.seeded["key"],
                seen.bodies[key],
            )  # fmt: skip
            seen.record(Outcome(key, (RETRY, RETRY), kind, status, detail, points))
        time.sleep(0.5)


def _stored(
    stack: Platform,
) -> tuple[list[tuple[str, int, int | None]], list[tuple[str, int]], int]:
    """(purchases: key, points, ledger transaction), (earn transactions per key), and
    the sum of the members' wallets, read straight from the platform's database."""
    schema = stack.seeded["schema"]
    with psycopg.connect(stack.postgres.url, autocommit=True) as conn:
        purchases = conn.execute(
            f"SELECT idempotency_key, points_awarded, ledger_transaction_id"
            f' FROM "{schema}".purchases_purchase'
        ).fetchall()
        transactions = conn.execute(
            "SELECT external_ref, count(*) FROM public.ledger_transaction"
            " WHERE memo = 'purchase' GROUP BY external_ref"
        ).fetchall()
        wallets = conn.execute(
            "SELECT coalesce(sum(a.balance), 0) FROM public.ledger_account a"
            " JOIN public.members_member m ON m.id = a.member_id"
            " WHERE m.member_number = ANY(%s)",
            [stack.seeded["members"]],
        ).fetchone()
    assert wallets is not None
    return purchases, transactions, int(wallets[0])


@pytest.mark.slow
def test_purchases_survive_killed_database_web_worker_and_redis(stack: Platform) -> None:
    # given clients recording purchases over HTTP, each with unique idempotency keys
    seen = Seen()
    stop = threading.Event()
    run = uuid.uuid4().hex[:8]
    web, log = stack.web, stack.web.log
    clients = [
        threading.Thread(target=_client, args=(number, stack.seeded, web.port, run, seen, stop),
                         name=f"fault-client-{number}")
        for number in range(CLIENTS)
    ]  # fmt: skip
    for thread in clients:
        thread.start()
    try:
        _acks_grow_by(seen, 3 * CLIENTS, PHASE_TIMEOUT, "purchases before any fault", log)

        # when a web worker is killed, and gunicorn replaces it
        victim = web.worker_pids()[0]
        seen.phase = WORKER_KILLED
        os.kill(victim, signal.SIGKILL)
        _wait_for(
            lambda: victim not in web.worker_pids() and len(web.worker_pids()) == web.workers,
            PHASE_TIMEOUT, "gunicorn replaced the killed worker", log,
        )  # fmt: skip
        _acks_grow_by(seen, 3 * CLIENTS, PHASE_TIMEOUT, "purchases after the worker kill", log)
        seen.phase = STEADY

        # when PostgreSQL is killed (postmaster and backends), stays down, and restarts
        seen.phase = DATABASE_DOWN
        stack.postgres.kill()
        time.sleep(OUTAGE_SECONDS)
        stack.postgres.start()
        _acks_grow_by(seen, 3 * CLIENTS, PHASE_TIMEOUT, "purchases after PostgreSQL restarted", log)
        seen.phase = STEADY

        # when Redis (rate limits and the Celery broker) is killed
        seen.phase = REDIS_DOWN
        stack.redis.kill()
        acks_before = seen.acks()
        time.sleep(OUTAGE_SECONDS)
        acks_with_redis_down = seen.acks() - acks_before
        seen.phase = STEADY
        stack.redis.start()
        _acks_grow_by(seen, 2 * CLIENTS, PHASE_TIMEOUT, "purchases after Redis restarted", log)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    # and every unacknowledged request is sent again with its key once all is back
    stored_unacknowledged = set(seen.unacknowledged()) & {key for key, _, _ in _stored(stack)[0]}
    _retry_unacknowledged(stack, seen)
    # and a few acknowledged ones too, as a client that lost the answer would
    for key in list(seen.acked)[:: max(1, len(seen.acked) // 10)]:
        kind, status, detail, points = _send(
            web.port, stack.seeded["host"], stack.seeded["key"], seen.bodies[key]
        )
        seen.record(Outcome(key, (RETRY, RETRY), kind, status, detail, points))

    report = (
        f"{seen.summary()}; {len(stored_unacknowledged)} stored but not acknowledged before"
        f" the retries\n{stack.logs()}"
    )
    # then the clients did meet the database's outage (or this proves nothing)
    assert any(o.kind != "ack" and DATABASE_DOWN in o.phases for o in seen.outcomes), report
    # then every answer but a success was a typed JSON error or a 503, and a dropped
    # connection only came from the killed worker
    problems = seen.problems()
    assert not problems, f"{_grouped(problems)}\n{report}"
    # and purchases succeeded while Redis was down
    assert acks_with_redis_down > 0, report
    # and every request ended acknowledged
    assert not seen.unacknowledged(), report

    # then the database holds exactly the acknowledged purchases, each posted once
    purchases, transactions, wallets = _stored(stack)
    stored_points = {key: points for key, points, _ in purchases}
    assert stored_points == seen.acked, report
    assert len(purchases) == len(stored_points)
    postings = [tx for _, _, tx in purchases if tx is not None]
    assert len(postings) == len(set(postings)), "two purchases share a ledger transaction"
    assert all(count == 1 for _, count in transactions), [t for t in transactions if t[1] != 1]
    assert {ref for ref, _ in transactions} == {key for key, points in seen.acked.items() if points}
    assert wallets == sum(seen.acked.values())

    # and the ledger verifies clean
    verified = stack.loyalty("verify-ledger", "--seal-first")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Ledger intact" in verified.stdout
