"""``./loyalty bench operator`` still runs: its fill and measuring, at a tiny scale,
inside an ordinary test (figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import bench_operator

pytestmark = pytest.mark.django_db


def test_the_operator_benchmark_fills_and_times_the_finance_report() -> None:
    # given / when: the benchmark at a thousandth of its size, two runs of each query
    bench = bench_operator.operator_bench(0.001, fill_clients=1, runs=2)

    # then the journal holds the entries asked for, the report saw the expiries,
    # holds and months, and the table has its five rows
    assert bench.entries >= bench.scale.min_entries
    assert bench.fill["expired"] > 0
    assert bench.fill["holds"] > 0
    assert bench.report.expired_points >= bench.fill["expired"]
    assert sum(1 for month in bench.report.months if month.issued) > 1
    assert len(bench.report_ms) == len(bench.lots_ms) == len(bench.months_ms) == 2
    rows = bench_operator.table_rows(bench)
    assert [row[0].split()[0] for row in rows] == [
        "finance_report()", "finance_report(),", "rollups", "plain:", "plain:",
    ]  # fmt: skip
    # the report timed again with a tail of earns above the folded rollup
    assert bench.tail > 0
    assert bench.stale_report_ms is not None
    assert len(bench.stale_report_ms) == 2
