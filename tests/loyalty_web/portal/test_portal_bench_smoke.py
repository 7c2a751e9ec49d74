"""``./loyalty bench portal`` still runs: its seeding and measuring, at a tiny
scale, inside an ordinary test (figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import bench_portal

pytestmark = pytest.mark.django_db


def test_the_portal_benchmark_seeds_and_measures_its_three_pages() -> None:
    # given / when: the benchmark at a thousandth of its size, one request per page
    report = bench_portal.portal_bench(0.0001, fill_clients=1, warm_up=1, requests=2)

    # then: the member has the movements asked for, every page answered (the
    # benchmark checks each shows the member's figures) and a table row each
    assert report.heavy_movements >= report.scale.heavy_movements * 0.9
    assert report.entries >= report.scale.min_entries
    assert [page.name for page in report.pages] == ["home", "history", "vouchers"]
    assert all(page.statements > 0 and len(page.page_ms) == 2 for page in report.pages)
    rows = bench_portal.table_rows(report)
    assert [row[0].split()[0] for row in rows] == ["home", "history", "vouchers"]
