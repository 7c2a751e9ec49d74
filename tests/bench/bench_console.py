"""Benchmark: the merchant console's busiest pages on a coalition of real size.

Run with `./loyalty bench console`. On one test database, in one run:

1. 10 partners with settlement terms and 100,000 members with wallets;
2. a journal of at least 1,000,000 entries written through the ledger's own
   ``earn_batch``, a third of it at the partner whose console is measured, plus one
   "heavy" member with 2,000 transactions there (earns and spends) and purchases
   recorded through the purchase service, so the member and history pages have
   a long past to page through;
3. the rollups folded as the beat task does, and the period closed (forced), so
   the partner has a statement with every line kind the fill produced (its
   "issued" line counts a third of the million entries' earns);
4. each page fetched by an owner signed in on the partner's host, through the
   whole Django stack in this process (middleware, session, permission, view,
   template): the "server time" of a request, with no network in it. Each page is
   fetched ``WARM_UP`` times, then ``REQUESTS`` times measured.

Baseline in the same run: the SQL the page ran, captured with its parameters and
replayed alone on a cursor (the same statements, in order, on the same search
path), as many times. The difference is the page's Python: views, forms and
template rendering.

Prints one table (page | p95 | SQL alone p95 | ratio | target | met?). Asserts
only that each page answered 200 with the figures the fill produced, never a
timing. Target: p95 under 150 ms per page.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.analytics.services import rollups_advance
from coalition.ledger import services as ledger
from coalition.ledger.errors import InsufficientPoints
from coalition.ledger.services import EarnRequest
from coalition.members.models import Member
from coalition.settlement.models import LineKind, Statement
from loyalty_web.console.access import SESSION_PARTNER
from tenants.partners.models import Partner
from tenants.purchases.services import ReceiptLine, purchase_record
from tenants.staff import services as staff
from tests.testkit import assert_on_test_database, host_client
from tests.testkit.bench import in_threads, met, percentile, print_table, scalar, timed
from tests.testkit.concurrency import bulk_members
from tests.testkit.earning import publish, receipt
from tests.testkit.settlement import close_now, cover_every_partner_with_terms, onboard_partner

# LOYALTY_BENCH_SCALE=0.01 runs the same steps on 1,000 members and 10,000 entries:
# a quick check that the benchmark still runs, not a measurement.
SCALE = float(os.environ.get("LOYALTY_BENCH_SCALE", "1"))
PARTNERS = 10
MEMBERS = max(int(100_000 * SCALE), 100)
MIN_ENTRIES = max(int(1_000_000 * SCALE), 1_000)
CONSOLE_SHARE = 0.33  # of the earns: at the partner whose console is measured
FILL_CLIENTS = 2
BATCH_SIZE = 5_000
HEAVY_EARNS = 1_500
HEAVY_BURNS = 400
HEAVY_PURCHASES = 100
WARM_UP = 5
REQUESTS = 60
TARGET_MS = 150.0


@dataclass
class Captured:
    """The statements a request ran on Django's connection, with their parameters."""

    statements: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not many:
            self.statements.append((sql, params))
        return execute(sql, params, many, context)


@dataclass
class PageFigures:
    name: str
    path: str
    page_ms: list[float]
    sql_ms: list[float]
    statements: int


def _fill(partners: list[Partner], members: list[int], start: int) -> int:
    """Earn in big batches until the journal holds MIN_ENTRIES more entries."""
    console, others = partners[0].pk, [p.pk for p in partners[1:]]
    earns_needed = (MIN_ENTRIES - (_entries_since(start)) + 1) // 2 + 1
    per_client = -(-earns_needed // FILL_CLIENTS)

    def earn(index: int) -> int:
        rng, done = random.Random(40 + index), 0
        while done < per_client:
            size = min(BATCH_SIZE, per_client - done)
            ledger.earn_batch(
                [
                    EarnRequest(
                        member_id=rng.choice(members),
                        partner_id=console if rng.random() < CONSOLE_SHARE else rng.choice(others),
                        points=rng.randint(20, 400),
                    )
                    for _ in range(size)
                ]
            )
            done += size
        return done

    return sum(in_threads(FILL_CLIENTS, earn))


def _entries_since(start: int) -> int:
    return int(
        scalar("SELECT count(*) FROM public.ledger_entry WHERE transaction_id > %s", [start])
    )


def _heavy_member(partner: Partner, member: Member) -> None:
    """A member with a long past at the partner: earns, spends and purchases."""
    rng = random.Random(7)
    for start in range(0, HEAVY_EARNS, 500):
        ledger.earn_batch(
            [
                EarnRequest(member_id=member.pk, partner_id=partner.pk, points=rng.randint(20, 90))
                for _ in range(min(500, HEAVY_EARNS - start))
            ]
        )
    for _ in range(HEAVY_BURNS):
        try:
            ledger.burn(member_id=member.pk, partner_id=partner.pk, points=rng.randint(5, 40))
        except InsufficientPoints:
            break
    with tenant_context(partner):
        now = timezone.now()
        publish(
            [("base_rate", {"rates": {partner.default_currency: "1"}})],
            effective_from=now,
            now=now,
        )
        for n in range(HEAVY_PURCHASES):
            purchase_record(
                receipt(
                    member.pk,
                    timezone.now(),
                    ReceiptLine("APPLES", "fresh", 1 + n % 4, 45),
                    ReceiptLine("RICE", "pantry", 1, 639),
                    currency=partner.default_currency,
                )
            )


def _owner_client(partner: Partner, run: str) -> Client:
    membership = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"owner-{run}@bench.example",
        password="bench password 42",
        role="owner",
    )
    client = host_client(f"{partner.slug}.localhost")
    client.force_login(membership.user)
    session = client.session
    session[SESSION_PARTNER] = partner.pk
    session.save()
    return client


def _measure(client: Client, partner: Partner, name: str, path: str) -> PageFigures:
    for _ in range(WARM_UP):
        answer = client.get(path)
        assert answer.status_code == 200, (name, path, answer.status_code)
    page_ms = []
    captured = Captured()
    for n in range(REQUESTS):
        recorder = Captured()
        with connection.execute_wrapper(recorder):
            answer, seconds = timed(lambda: client.get(path))
        assert answer.status_code == 200, (name, path, answer.status_code)
        page_ms.append(seconds * 1000)
        if n == 0:
            captured = recorder
    # The page's SQL alone: the same statements, in order, on the partner's search path.
    sql_ms = []
    with tenant_context(partner), connection.cursor() as cursor:
        for _ in range(REQUESTS):

            def replay() -> None:
                for sql, params in captured.statements:
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        cursor.fetchall()

            sql_ms.append(timed(replay)[1] * 1000)
    return PageFigures(name, path, page_ms, sql_ms, len(captured.statements))


def test_this_module_runs_on_the_test_database(db: None) -> None:
    assert_on_test_database()


def test_console_pages_over_a_million_entries(live_db: Any) -> None:
    assert_on_test_database()
    load_before = os.getloadavg()
    run = uuid.uuid4().hex[:6]

    # given 10 partners and 100,000 members
    partners = [onboard_partner(f"bc{run}{i}", ("EUR", "GBP", "USD")[i % 3]) for i in range(10)]
    console = partners[0]
    members, members_seconds = timed(lambda: bulk_members(MEMBERS, f"bc{run}"))
    cover_every_partner_with_terms()
    start = int(close_now().end_watermark or 0)  # whatever earlier benchmarks left

    # and a journal of a million entries and more, a third of it at the console's partner
    earns, fill_seconds = timed(lambda: _fill(partners, members, start))
    heavy = Member.objects.get(pk=members[0])
    _, heavy_seconds = timed(lambda: _heavy_member(console, heavy))
    entries = _entries_since(start)
    assert entries >= MIN_ENTRIES
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) public.ledger_entry, public.ledger_transaction, "
            "public.ledger_account, public.ledger_lot, public.ledger_lotmovement"
        )

    # and the rollups folded (the beat's job) and the period closed
    _, fold_seconds = timed(rollups_advance)
    period, close_seconds = timed(close_now)
    statement = Statement.objects.get(period=period, partner=console)
    issued_line = statement.lines.get(kind=LineKind.ISSUED)
    connection.set_schema_to_public()

    # when an owner opens each page
    client = _owner_client(console, run)
    number = heavy.member_number
    pages = [
        ("dashboard", "/"),
        ("member page", f"/members/{number}/"),
        ("history page", f"/members/{number}/history/"),
        ("statement page", f"/settlement/periods/{period.number}/"),
        ("statement line page", f"/settlement/periods/{period.number}/lines/{issued_line.pk}/"),
    ]
    figures = [_measure(client, console, name, path) for name, path in pages]

    # then (figures, not assertions, for the timings)
    issued_here = int(
        scalar(
            "SELECT coalesce(sum(points), 0) FROM public.ledger_transaction "
            "WHERE partner_id = %s AND id > %s AND kind = 'earn'",
            [console.pk, start],
        )
    )
    assert issued_here > 0
    assert statement.partner_id == console.pk
    assert issued_line.points == issued_here  # the statement counts every earn here
    rows: list[tuple[str, str, str, str, str, str]] = []
    for page in figures:
        p95, sql_p95 = percentile(page.page_ms, 95), percentile(page.sql_ms, 95)
        rows.append(
            (
                f"{page.name} {page.path} ({page.statements} statements)",
                f"p95 {p95:.1f} ms (p50 {percentile(page.page_ms, 50):.1f})",
                f"SQL alone p95 {sql_p95:.1f} ms",
                f"{p95 / sql_p95:.1f}x" if sql_p95 else "-",
                f"p95 < {TARGET_MS:.0f} ms",
                met(p95 < TARGET_MS),
            )
        )
    print()
    print(
        f"console pages: {MEMBERS:,} members, {entries:,} journal entries in the period "
        f"({earns:,} earns; {CONSOLE_SHARE:.0%} at {console.slug}), heavy member "
        f"{heavy.member_number}: {HEAVY_EARNS} earns, {HEAVY_BURNS} spends, "
        f"{HEAVY_PURCHASES} purchases"
    )
    print(
        f"set-up: members {members_seconds:.1f} s, fill {fill_seconds:.1f} s, heavy member "
        f"{heavy_seconds:.1f} s, rollups {fold_seconds:.1f} s, close {close_seconds:.1f} s; "
        f"{REQUESTS} requests per page after {WARM_UP} to warm up; load before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print_table(rows)
