"""Benchmark: pricing and recording purchases, next to the ledger's own earn rate.

Run with `./loyalty bench earning`. On one database, in one run, it measures:

- the engine alone: a 50-line basket against 20 active rules and 5 campaigns,
  baskets per second in process (one thread);
- `purchase_record` end to end through the service layer (validation, rules in
  force, campaigns, receipt + lines, ledger earn, tier check) with 16 concurrent
  clients;
- the ledger's single `earn` with 16 concurrent clients, the baseline: a purchase
  is an earn plus the receipt, so their ratio is the cost of everything around it.

Prints a table; asserts only that the work was really done (no timing thresholds).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.ledger import services as ledger
from coalition.members.services import member_enrol
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import engine
from tenants.earning import services as earning
from tenants.earning.selectors import campaigns_running, engine_rules, version_in_force
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tests.testkit import assert_on_test_database

CLIENTS = 16
SECONDS = 6.0
ENGINE_SECONDS = 3.0
CATEGORIES = ("fresh", "dairy", "bakery", "pantry", "drinks", "frozen", "household", "tobacco")


def _twenty_rules() -> list[tuple[str, dict[str, Any]]]:
    rules: list[tuple[str, dict[str, Any]]] = [
        ("base_rate", {"rates": {"EUR": "1", "GBP": "1.2"}}),
        ("exclude_categories", {"categories": ["tobacco", "gift_cards"]}),
        ("rounding", {"mode": "half_up"}),
        ("receipt_cap", {"points": 100_000}),
        ("daily_cap", {"points": 10_000_000}),
        ("tier_multiplier", {"multipliers": {"gold": "1.5"}}),
        ("minimum_spend", {"amounts": {"EUR": 100}}),
    ]
    for index, category in enumerate(CATEGORIES[:6]):
        rules.append(
            ("category_multiplier", {"category": category, "multiplier": str(1 + index % 3)})
        )
    for index in range(4):
        rules.append(("sku_multiplier", {"sku": f"SKU-{index}", "multiplier": "3"}))
    for index in range(3):
        rules.append(("sku_bonus", {"sku": f"SKU-{10 + index}", "points_per_unit": 5}))
    assert len(rules) == 20
    return rules


def _basket_lines() -> tuple[ReceiptLine, ...]:
    return tuple(
        ReceiptLine(f"SKU-{index}", CATEGORIES[index % len(CATEGORIES)], 1 + index % 3, 150 + index)
        for index in range(50)
    )


def _receipt(member_id: int, external_id: str, lines: tuple[ReceiptLine, ...]) -> Receipt:
    return Receipt(
        external_id=external_id,
        member_id=member_id,
        occurred_at=timezone.now(),
        currency="EUR",
        lines=lines,
        total=sum(line.quantity * line.unit_price for line in lines),
    )


def _run_clients(work: Any) -> tuple[int, list[float], list[BaseException]]:
    """Run ``work(client, n)`` in CLIENTS threads for SECONDS; return count, latencies."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)
    deadline: list[float] = []

    def client(number: int) -> None:
        local: list[float] = []
        try:
            barrier.wait()
            if not deadline:
                deadline.append(time.perf_counter() + SECONDS)
            n = 0
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                work(number, n)
                local.append(time.perf_counter() - started)
                n += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()
            with lock:
                latencies.extend(local)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies, errors


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def test_this_module_runs_on_the_test_database(db: None) -> None:
    assert_on_test_database()


def test_purchase_throughput_next_to_the_ledger_earn(live_db: Any, partner_a: Partner) -> None:
    assert_on_test_database()
    run = uuid.uuid4().hex[:8]
    now = timezone.now()
    with tenant_context(partner_a):
        # Always its own twenty rules, in force from now: another bench run on the
        # same database may have published a smaller version before.
        version = earning.ruleset_draft_create(description="bench")
        for kind, params in _twenty_rules():
            earning.rule_add(version=version, kind=kind, params=params)
        earning.ruleset_publish(version=version, effective_from=now, now=now)
        for index in range(5):
            earning.campaign_create(
                name=f"bench {run} {index}",
                kind=(
                    "multiplier",
                    "bonus",
                    "category_multiplier",
                    "first_purchase_bonus",
                    "bonus",
                )[index],
                params=(
                    {"multiplier": "2"},
                    {"points": 10},
                    {"category": "fresh", "multiplier": "2"},
                    {"points": 100},
                    {"points": 5},
                )[index],
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(hours=1),
                # one budgeted campaign: its row is locked by every purchase that gets it
                budget_points=10_000_000 if index == 4 else None,
            )
        version = version_in_force(timezone.now())
        assert version is not None
        rules = engine_rules(version)
        campaigns = campaigns_running(timezone.now())
    assert len(rules) >= 20
    assert len(campaigns) >= 5
    lines = _basket_lines()
    basket = _receipt(0, "x", lines).basket
    context = engine.EarnContext(occurred_at=timezone.now())

    # engine alone
    baskets, started = 0, time.perf_counter()
    while time.perf_counter() - started < ENGINE_SECONDS:
        engine.points_for_purchase(basket, rules, campaigns, context)
        baskets += 1
    engine_rate = baskets / (time.perf_counter() - started)
    per_basket_ms = 1000 / engine_rate

    members = [member_enrol(email=f"bench-{run}-{i}@example.com").pk for i in range(256)]
    partner_id = partner_a.pk

    # baseline: the ledger's own single earn, 16 clients
    def earn(client: int, n: int) -> None:
        ledger.earn(
            member_id=members[(client * 16 + n) % len(members)],
            partner_id=partner_id,
            points=10,
            idempotency=IdempotencyKey("bench", f"{run}-earn-{client}-{n}"),
        )

    earns, earn_latencies, earn_errors = _run_clients(earn)
    assert not earn_errors, earn_errors[:3]
    earn_rate = earns / SECONDS

    # end to end: record purchase through the service layer, 16 clients
    def purchase(client: int, n: int) -> None:
        with tenant_context(partner_a):
            purchase_record(
                _receipt(members[(client * 16 + n) % len(members)], f"{run}-{client}-{n}", lines),
                idempotency=IdempotencyKey("bench", f"{run}-purchase-{client}-{n}"),
            )

    purchases, purchase_latencies, purchase_errors = _run_clients(purchase)
    assert not purchase_errors, purchase_errors[:3]
    purchase_rate = purchases / SECONDS
    with tenant_context(partner_a):
        recorded = Purchase.objects.filter(external_id__startswith=f"{run}-").count()
    assert recorded == purchases

    rows = [
        ("engine: 50 lines, 20 rules, 5 campaigns", f"{engine_rate:,.0f} baskets/s",
         f"{per_basket_ms:.2f} ms each", "-"),
        ("ledger earn, 16 clients (baseline)", f"{earn_rate:,.0f} /s",
         f"p50 {_p(earn_latencies, .5):.1f} ms, p99 {_p(earn_latencies, .99):.1f} ms", "1.00"),
        ("record purchase e2e, 16 clients", f"{purchase_rate:,.0f} /s",
         f"p50 {_p(purchase_latencies, .5):.1f} ms, p99 {_p(purchase_latencies, .99):.1f} ms",
         f"{purchase_rate / earn_rate:.2f}"),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version_text = cursor.fetchone()[0].split()[0]
    print()
    print(f"Earning benchmark on PostgreSQL {version_text}, {SECONDS:.0f} s per client run")
    print(f"{'measure':<42} {'throughput':>16}  {'latency':<30} {'vs earn':>7}")
    for measure, rate, latency, ratio in rows:
        print(f"{measure:<42} {rate:>16}  {latency:<30} {ratio:>7}")
    print(
        f"median engine time per basket {statistics.median([per_basket_ms]):.2f} ms; "
        f"{purchases} purchases and {earns} earns posted"
    )
