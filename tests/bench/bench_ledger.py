"""Benchmark: the ledger's write and read paths, each next to a raw baseline.

Run with `./loyalty bench ledger`. On one test database, in one run:

1. single earns per second from 16 concurrent clients (threads, one connection
   each, an idempotency key per request), all issued by ONE hot partner, over 64
   members; next to the same double-entry work done with raw psycopg (header, two
   entries, balance update, commit) in scratch tables without the ledger's
   triggers (schema ``bench_raw``, same columns and indexes, the entries' foreign
   keys kept);
2. batched earns (``services.earn_batch``) per second from a few clients;
3. p50 / p99 of ``selectors.balance`` once the journal holds over a million
   entries, next to the same SELECT sent with raw psycopg.

Prints one table (metric | value | baseline | ratio | target | met?). It asserts
only that the work was really done and the books still balance, never a timing.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection

from coalition.ledger import selectors, services
from coalition.ledger.services import EarnRequest
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database, database_url_of
from tests.testkit.bench import met, print_table, scalar
from tests.testkit.concurrency import books_report, bulk_members

HOT_CLIENTS = 16
HOT_MEMBERS = 64
EARN_ROUNDS = 3  # ledger and raw SQL alternate, EARN_SECONDS each per round
EARN_SECONDS = 2.0
BATCH_CLIENTS = 4
BATCH_SIZE = 1000
BATCH_SECONDS = 6.0
READ_MEMBERS = 10_000
MIN_ENTRIES = 1_000_000
FILL_CHUNK = 100_000  # transactions (two entries each) per fill statement
READS = 5_000

TARGET_EARNS = 1_000.0
TARGET_RATIO = 0.6
TARGET_BATCH = 10_000.0
TARGET_P99_MS = 2.0


# --- driving concurrent clients ------------------------------------------------------

Step = Callable[[], int]  # does one unit of work, returns how many events it posted
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Client:
    step: Step
    backend_pid: int  # the PostgreSQL backend serving this client's connection
    close: Callable[[], None]


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local PostgreSQL backend has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # not local, or gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class Rate:
    events: int
    seconds: float
    client_cpu: float  # CPU seconds of this Python process while measuring
    server_cpu: float  # CPU seconds of the clients' PostgreSQL backends

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_ms_per_event(self) -> float:
        return (self.client_cpu + self.server_cpu) * 1000 / self.events

    @property
    def idle_machine_rate(self) -> float:
        """Events per second this work would reach with every CPU of the machine
        to itself (CPU-bound estimate; the machine is shared while we measure)."""
        return (os.cpu_count() or 1) * 1000 / self.cpu_ms_per_event

    def __add__(self, other: Rate) -> Rate:
        return Rate(
            self.events + other.events,
            self.seconds + other.seconds,
            self.client_cpu + other.client_cpu,
            self.server_cpu + other.server_cpu,
        )


def _drive(clients: int, seconds: float, open_client: Callable[[int], Client]) -> Rate:
    """Run ``clients`` threads; each opens its client (its own connection), warms
    up with one step, then all start together and step until ``seconds`` have
    passed. Returns events over the span from first start to last finish."""
    barrier = threading.Barrier(clients + 1)
    events = [0] * clients
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * clients
    server_cpu = [0.0] * clients
    errors: list[BaseException] = []

    def client(index: int) -> None:
        opened: Client | None = None
        try:
            opened = open_client(index)
            opened.step()  # warm-up: connection, prepared statements, caches
            barrier.wait()
            cpu_before = _backend_cpu(opened.backend_pid)
            started = time.perf_counter()
            deadline = started + seconds
            done = 0
            while time.perf_counter() < deadline:
                done += opened.step()
            events[index] = done
            spans[index] = (started, time.perf_counter())
            server_cpu[index] = _backend_cpu(opened.backend_pid) - cpu_before
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            if opened is not None:
                opened.close()
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    cpu_before = time.process_time()
    for thread in threads:
        thread.join()
    client_cpu = time.process_time() - cpu_before
    assert not errors, errors[:3]
    span = max(end for _, end in spans) - min(start for start, _ in spans)
    return Rate(sum(events), span, client_cpu, sum(server_cpu))


def _django_backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


# --- the raw baseline ----------------------------------------------------------------

RAW_SCHEMA_SQL = """
DROP SCHEMA IF EXISTS bench_raw CASCADE;
CREATE SCHEMA bench_raw;
CREATE TABLE bench_raw.account (LIKE public.ledger_account INCLUDING ALL);
CREATE TABLE bench_raw.txn (LIKE public.ledger_transaction INCLUDING ALL);
CREATE TABLE bench_raw.entry (LIKE public.ledger_entry INCLUDING ALL);
ALTER TABLE bench_raw.entry
    ADD FOREIGN KEY (transaction_id) REFERENCES bench_raw.txn (id)
        DEFERRABLE INITIALLY DEFERRED,
    ADD FOREIGN KEY (account_id) REFERENCES bench_raw.account (id)
        DEFERRABLE INITIALLY DEFERRED;
"""


def _raw_schema(wallet_ids: list[int], issuance_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RAW_SCHEMA_SQL)
        cursor.execute(
            """
            INSERT INTO bench_raw.account SELECT * FROM public.ledger_account
             WHERE id = ANY(%s)
            """,
            [[*wallet_ids, issuance_id]],
        )


def _raw_earn_client(
    url: str, run: str, wallets: list[int], member_of: dict[int, int], hot: int, issuance: int
) -> Callable[[int], Client]:
    def open_client(index: int) -> Client:
        conn = psycopg.connect(url, autocommit=False)
        cursor = conn.cursor()
        rng = random.Random(1000 + index)
        counter = itertools.count()
        token = uuid.uuid4().hex[:8]

        def step() -> int:
            wallet = rng.choice(wallets)
            points = rng.randint(1, 100)
            cursor.execute(
                """
                INSERT INTO bench_raw.txn
                    (kind, partner_id, member_id, points, external_ref, memo,
                     idempotency_scope, idempotency_key, request_hash, result, created_at)
                VALUES ('earn', %s, %s, %s, '', '', %s, %s, '', '{}'::jsonb, now())
                RETURNING id
                """,
                [hot, member_of[wallet], points, f"raw:{run}", f"c{index}-{token}-{next(counter)}"],
            )
            row = cursor.fetchone()
            assert row is not None
            cursor.execute(
                """
                INSERT INTO bench_raw.entry (transaction_id, account_id, amount)
                VALUES (%s, %s, %s), (%s, %s, %s)
                """,
                [row[0], wallet, points, row[0], issuance, -points],
            )
            cursor.execute(
                "UPDATE bench_raw.account SET balance = balance + %s WHERE id = %s",
                [points, wallet],
            )
            conn.commit()
            return 1

        return Client(step, conn.info.backend_pid, conn.close)

    return open_client


# --- the ledger's clients --------------------------------------------------------------


def _earn_client(run: str, members: list[int], hot: int) -> Callable[[int], Client]:
    def open_client(index: int) -> Client:
        rng = random.Random(index)
        counter = itertools.count()
        token = uuid.uuid4().hex[:8]
        scope = f"partner:bench-{run}"

        def step() -> int:
            services.earn(
                member_id=rng.choice(members),
                partner_id=hot,
                points=rng.randint(1, 100),
                idempotency=IdempotencyKey(scope, f"c{index}-{token}-{next(counter)}"),
            )
            return 1

        return Client(step, _django_backend_pid(), connection.close)

    return open_client


def _batch_client(run: str, members: list[int], hot: int, clients: int) -> Callable[[int], Client]:
    def open_client(index: int) -> Client:
        # Each client earns for its own members (a partner's import, say), so
        # concurrent batches do not queue on the same wallet locks.
        own = members[index::clients]
        rng = random.Random(500 + index)
        counter = itertools.count()
        token = uuid.uuid4().hex[:8]
        scope = f"partner:batch-{run}"

        def step() -> int:
            items = [
                EarnRequest(
                    member_id=rng.choice(own),
                    partner_id=hot,
                    points=rng.randint(1, 100),
                    idempotency=IdempotencyKey(scope, f"c{index}-{token}-{next(counter)}"),
                )
                for _ in range(BATCH_SIZE)
            ]
            return len(services.earn_batch(items))

        return Client(step, _django_backend_pid(), connection.close)

    return open_client


# --- filling the journal ---------------------------------------------------------------

FILL_SQL = """
WITH w AS (
    SELECT u.ord, u.member_id, a.id AS wallet_id, a.balance
      FROM unnest(%(members)s::bigint[]) WITH ORDINALITY AS u(member_id, ord)
      JOIN public.ledger_account a ON a.member_id = u.member_id AND a.kind = 'wallet'
), src AS MATERIALIZED (
    SELECT g, w.member_id, w.wallet_id, w.balance AS start,
           (1 + (g * 37) %% 200)::bigint AS points,
           nextval(%(tx_seq)s::regclass) AS tx_id, nextval(%(lot_seq)s::regclass) AS lot_id
      FROM generate_series(1, %(n)s) AS g
      JOIN w ON w.ord = 1 + g %% %(m)s
), header AS (
    INSERT INTO public.ledger_transaction
        (id, kind, partner_id, member_id, points, external_ref, memo, idempotency_scope,
         idempotency_key, request_hash, result, created_at)
    SELECT tx_id, 'earn', %(partner)s, member_id, points, '', 'bench fill', NULL, NULL, '',
           jsonb_build_object(
               'balance_after', start + sum(points) OVER (PARTITION BY member_id ORDER BY g),
               'lot', lot_id),
           now()
      FROM src ORDER BY tx_id
), entries AS (
    INSERT INTO public.ledger_entry (transaction_id, account_id, amount)
    SELECT tx_id, wallet_id, points FROM src
    UNION ALL
    SELECT tx_id, %(issuance)s, -points FROM src
), lots AS (
    INSERT INTO public.ledger_lot
        (id, member_id, issuer_id, transaction_id, earned_at, expires_at, points, remaining)
    SELECT lot_id, member_id, %(partner)s, tx_id, now(), NULL, points, points FROM src
)
UPDATE public.ledger_account a SET balance = a.balance + t.total
  FROM (SELECT wallet_id, sum(points) AS total FROM src GROUP BY wallet_id) t
 WHERE a.id = t.wallet_id
"""


def _fill(members: list[int], partner: int, issuance: int) -> tuple[int, float]:
    """Earn set-wise until the journal holds MIN_ENTRIES entries (balanced
    transactions, lots and wallet balances kept consistent, triggers on)."""
    started = time.perf_counter()
    tx_seq = scalar("SELECT pg_get_serial_sequence('public.ledger_transaction', 'id')")
    lot_seq = scalar("SELECT pg_get_serial_sequence('public.ledger_lot', 'id')")
    while (entries := int(scalar("SELECT count(*) FROM public.ledger_entry"))) < MIN_ENTRIES:
        transactions = min(FILL_CHUNK, (MIN_ENTRIES - entries + 1) // 2)
        with connection.cursor() as cursor:
            cursor.execute(
                FILL_SQL,
                {
                    "members": members,
                    "m": len(members),
                    "n": transactions,
                    "partner": partner,
                    "issuance": issuance,
                    "tx_seq": tx_seq,
                    "lot_seq": lot_seq,
                },
            )
    with connection.cursor() as cursor:
        # As autovacuum would after such a load; done now so that it does not run
        # in the middle of the read timings.
        cursor.execute(
            "VACUUM (ANALYZE) public.ledger_account, public.ledger_entry, "
            "public.ledger_transaction, public.ledger_lot"
        )
    return entries, time.perf_counter() - started


# --- balance reads -----------------------------------------------------------------------


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = statistics.median(ordered) / 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
    return p50, p99


def _time_reads(
    reads: dict[str, Callable[[int], int]], members: list[int]
) -> dict[str, tuple[float, float]]:
    """p50 and p99 in ms of each way of reading a balance, interleaved read by
    read on the same random members, so that both see the same conditions."""
    rng = random.Random(7)
    for member in rng.sample(members, 200):  # warm-up
        for read in reads.values():
            read(member)
    samples: dict[str, list[int]] = {name: [] for name in reads}
    gc.collect()
    for _ in range(READS):
        member = rng.choice(members)
        for name, read in reads.items():
            started = time.perf_counter_ns()
            read(member)
            samples[name].append(time.perf_counter_ns() - started)
    return {name: _percentiles(values) for name, values in samples.items()}


# --- report ----------------------------------------------------------------------------


def _server_label() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('fsync')")
        version, fsync = cursor.fetchone()
        cursor.execute("SELECT current_setting('synchronous_commit')")
        (sync,) = cursor.fetchone()
    return (
        f"PostgreSQL {version} at {connection.settings_dict.get('HOST') or 'socket'} "
        f"(fsync={fsync}, synchronous_commit={sync}), {os.cpu_count()} CPUs"
    )


def _cpu_line(name: str, rate: Rate) -> str:
    per = 1000 / rate.events
    return (
        f"  {name}: {rate.events:,} events in {rate.seconds:.1f}s; CPU per event "
        f"{rate.client_cpu * per:.3f} ms Python + {rate.server_cpu * per:.3f} ms PostgreSQL "
        f"-> about {rate.idle_machine_rate:,.0f}/s on an idle {os.cpu_count()}-CPU machine"
    )


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # The benchmark uses `live_db`, which alone would not make pytest-django create
    # the test database: it would write into the configured database.
    assert_on_test_database()


def test_ledger_throughput_and_balance_reads(live_db: Any, partner_a: Partner) -> None:
    assert_on_test_database()
    label = _server_label()
    load_before = os.getloadavg()[0]
    run = uuid.uuid4().hex[:8]
    hot = partner_a.pk
    services.partner_accounts_ensure(hot)
    issuance = int(
        scalar(
            "SELECT id FROM public.ledger_account WHERE kind = 'issuance' AND partner_id = %s",
            [hot],
        )
    )
    members = bulk_members(READ_MEMBERS, prefix=f"bench-{run}")
    hot_members = members[:HOT_MEMBERS]
    batch_members = members[HOT_MEMBERS:]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT member_id, id FROM public.ledger_account "
            "WHERE kind = 'wallet' AND member_id = ANY(%s)",
            [hot_members],
        )
        wallets = {int(member): int(account) for member, account in cursor.fetchall()}
    _raw_schema(list(wallets.values()), issuance)
    url = database_url_of(connection.settings_dict)
    member_of = {account: member for member, account in wallets.items()}
    transactions_before = int(scalar("SELECT count(*) FROM public.ledger_transaction"))

    # 1. single earns, 16 clients, one hot partner, in rounds alternating with the
    # raw baseline so that both share the same (shared, noisy) machine conditions
    earns = raw = Rate(0, 0.0, 0.0, 0.0)
    for _ in range(EARN_ROUNDS):
        earns += _drive(HOT_CLIENTS, EARN_SECONDS, _earn_client(run, hot_members, hot))
        raw += _drive(
            HOT_CLIENTS,
            EARN_SECONDS,
            _raw_earn_client(url, run, list(wallets.values()), member_of, hot, issuance),
        )

    # 2. batched earns
    batches = _drive(
        BATCH_CLIENTS, BATCH_SECONDS, _batch_client(run, batch_members, hot, BATCH_CLIENTS)
    )

    posted = int(scalar("SELECT count(*) FROM public.ledger_transaction")) - transactions_before
    warm_ups = EARN_ROUNDS * HOT_CLIENTS + BATCH_CLIENTS * BATCH_SIZE
    assert posted == earns.events + batches.events + warm_ups

    # 3. balance reads over a journal of a million entries and more
    entries, fill_seconds = _fill(members, hot, issuance)
    with psycopg.connect(url, autocommit=True) as raw_conn:
        raw_cursor = raw_conn.cursor()

        def raw_read(member: int) -> int:
            raw_cursor.execute(
                "SELECT balance FROM public.ledger_account"
                " WHERE member_id = %s AND kind = 'wallet'",
                [member],
            )
            row = raw_cursor.fetchone()
            assert row is not None
            return int(row[0])

        timings = _time_reads({"ledger": selectors.balance, "raw": raw_read}, members)
    (p50, p99), (raw_p50, raw_p99) = timings["ledger"], timings["raw"]

    books = books_report()
    assert books.unbalanced_transactions == []
    assert books.grand_total == 0
    assert books.negative_wallets == 0
    assert books.wallets_off_entries == []
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA bench_raw CASCADE")

    ratio = earns.per_second / raw.per_second
    rows = [
        (
            f"single earns/s ({HOT_CLIENTS} clients, 1 hot partner, {HOT_MEMBERS} members)",
            f"{earns.per_second:,.0f}",
            f"raw SQL {raw.per_second:,.0f}",
            f"{ratio:.2f}",
            f">= {TARGET_EARNS:,.0f}/s",
            met(earns.per_second >= TARGET_EARNS),
        ),
        (
            "single earns: ledger / raw SQL",
            f"{ratio:.2f}",
            "1.00",
            f"{ratio:.2f}",
            f">= {TARGET_RATIO}",
            met(ratio >= TARGET_RATIO),
        ),
        (
            f"batched earns events/s ({BATCH_CLIENTS} clients x {BATCH_SIZE}/transaction)",
            f"{batches.per_second:,.0f}",
            f"single {earns.per_second:,.0f}",
            f"{batches.per_second / earns.per_second:.1f}",
            f">= {TARGET_BATCH:,.0f}/s",
            met(batches.per_second >= TARGET_BATCH),
        ),
        (
            f"balance read p50 (ms, {READS} reads, {entries:,} entries)",
            f"{p50:.3f}",
            f"raw SELECT {raw_p50:.3f}",
            f"{p50 / raw_p50:.2f}",
            "-",
            "-",
        ),
        (
            f"balance read p99 (ms, {READS} reads, {entries:,} entries)",
            f"{p99:.3f}",
            f"raw SELECT {raw_p99:.3f}",
            f"{p99 / raw_p99:.2f}",
            f"< {TARGET_P99_MS} ms",
            met(p99 < TARGET_P99_MS),
        ),
        (
            "entries in the journal at read time",
            f"{entries:,}",
            "-",
            "-",
            f">= {MIN_ENTRIES:,}",
            met(entries >= MIN_ENTRIES),
        ),
    ]
    print()
    print(f"ledger benchmark on {label}")
    print(
        f"machine load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"(other processes share these CPUs); journal filled to {entries:,} entries "
        f"in {fill_seconds:.1f}s"
    )
    print_table(rows)
    print("where the CPU goes (this process and its PostgreSQL backends only):")
    print(_cpu_line("single earns (ledger)", earns))
    print(_cpu_line("single earns (raw SQL)", raw))
    print(_cpu_line("batched earns", batches))
