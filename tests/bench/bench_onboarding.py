"""Benchmark: onboarding a partner once 200 exist, next to the bare cost of a schema.

Run with `./loyalty bench onboarding`. Partners are cloned from a migrated template
schema, so creating one should cost a small constant multiple of creating an empty
schema with one table, however many partners exist. Prints a table; asserts only
that the partners were really created (no timing thresholds).
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tests.testkit import assert_on_test_database, schema_exists, tables_in_schema

EXISTING = 200
MEASURED = 20
BASELINE_REPS = 20


def _onboard(slug: str) -> float:
    started = time.perf_counter()
    partner_onboard(name=f"Bench {slug}", slug=slug, default_currency="EUR")
    return (time.perf_counter() - started) * 1000


def _create_schema_with_one_table(schema: str) -> float:
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(f'CREATE TABLE "{schema}".t (id bigserial primary key, name text not null)')
    return (time.perf_counter() - started) * 1000


def _server_label() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    host = connection.settings_dict.get("HOST") or "local socket"
    where = "embedded (Unix socket)" if str(host).startswith("/") else f"{host}"
    return f"PostgreSQL {version}, {where}, database {connection.settings_dict['NAME']}"


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # The benchmark uses `live_db`, which alone would not make pytest-django create
    # the test database: it would write its partners into the configured database.
    assert_on_test_database()


def test_onboarding_time_stays_flat_after_200_partners(live_db: Any) -> None:
    assert_on_test_database()
    run = uuid.uuid4().hex[:6]
    template_tables = len(tables_in_schema(settings.TENANT_BASE_SCHEMA))

    # given 200 partners onboarded (timed too, to show the first ones)
    first = [_onboard(f"b{run}-{i:03d}") for i in range(EXISTING)]
    existing = Partner.objects.count()

    # when 20 more are onboarded, one by one
    measured = [_onboard(f"b{run}-m{i:02d}") for i in range(MEASURED)]

    # and, as the baseline, an empty schema with one table is created 20 times
    baseline = [_create_schema_with_one_table(f"bench_{run}_{i:02d}") for i in range(BASELINE_REPS)]

    # then every partner really got its cloned schema (the table reports the times)
    assert Partner.objects.filter(slug__startswith=f"b{run}-").count() == EXISTING + MEASURED
    last = Partner.objects.get(slug=f"b{run}-m{MEASURED - 1:02d}")
    assert schema_exists(last.schema_name)
    assert len(tables_in_schema(last.schema_name)) == template_tables

    median, worst = statistics.median(measured), max(measured)
    base_median, base_worst = statistics.median(baseline), max(baseline)
    rows = [
        (f"onboard partner, first {MEASURED} of the {EXISTING}", first[:MEASURED]),
        (f"onboard partner, after {existing} exist", measured),
        ("baseline: CREATE SCHEMA + 1 table", baseline),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print(f"Onboarding benchmark ({_server_label()})")
    print(f"template schema: {template_tables} tables; {EXISTING} partners created first")
    print(f"{'measure':<{width}}  {'n':>3}  {'median ms':>9}  {'max ms':>8}")
    for label, times in rows:
        print(
            f"{label:<{width}}  {len(times):>3}  {statistics.median(times):>9.1f}"
            f"  {max(times):>8.1f}"
        )
    print(
        f"{'ratio onboarding / baseline':<{width}}  {'':>3}  {median / base_median:>8.1f}x"
        f"  {worst / base_worst:>7.1f}x"
    )
    print(f"all {EXISTING} first partners: {sum(first) / 1000:.1f} s in total")
