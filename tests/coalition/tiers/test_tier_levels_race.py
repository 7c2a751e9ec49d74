"""Levels added at the same moment by several operators (committed data, one
connection per thread): no two levels ever share a rank, thresholds still rise
with the rank, and every refused addition is a typed error that added nothing."""

from __future__ import annotations

import threading
import uuid

from django.db.models import Max

from coalition.tiers import services
from coalition.tiers.errors import TierError
from coalition.tiers.models import TierLevel
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import run_threads

ADDS = 4


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def _race(thresholds: list[int]) -> tuple[list[TierLevel], list[BaseException], list[str]]:
    suffix = uuid.uuid4().hex[:6]
    codes = [f"race{index}-{suffix}" for index in range(len(thresholds))]
    barrier = threading.Barrier(len(thresholds))

    def add(index: int) -> TierLevel:
        level, _ = services.tier_level_add(
            code=codes[index],
            name=f"Race {index}",
            threshold_points=thresholds[index],
            request_key=f"race-{suffix}-{index}",
            actor=None,
        )
        return level

    outcomes = run_threads(len(thresholds), add, barrier=barrier)
    added = [o.value for o in outcomes if o.error is None]
    refused = [o.error for o in outcomes if o.error is not None]
    return added, refused, codes


def _top_threshold() -> int:
    return int(TierLevel.objects.aggregate(top=Max("threshold_points"))["top"] or 0)


def test_concurrent_additions_with_the_same_threshold_add_one_level(live_db: None) -> None:
    assert_on_test_database()
    # given: the levels there are (committed by nobody else, or some)
    threshold = _top_threshold() + 1_000_000
    # when: four operators add a level with the same threshold at once
    added, refused, codes = _race([threshold] * ADDS)
    try:
        # then: one is added above the rest; the others are told why, typed
        assert len(added) == 1, refused
        assert all(isinstance(error, TierError) for error in refused), refused
        assert TierLevel.objects.filter(code__in=codes).count() == 1
    finally:
        TierLevel.objects.filter(code__in=codes).delete()


def test_concurrent_additions_never_share_a_rank_and_thresholds_rise(live_db: None) -> None:
    assert_on_test_database()
    base = _top_threshold() + 1_000_000
    # when: four operators add levels with different thresholds at once
    added, refused, codes = _race([base + step * 100 for step in range(ADDS)])
    try:
        # then: at least one is added, each refusal is typed and added nothing
        assert added, refused
        assert all(isinstance(error, TierError) for error in refused), refused
        assert TierLevel.objects.filter(code__in=codes).count() == len(added)
        # and they have distinct ranks, above every other level, whose thresholds rise
        levels = list(
            TierLevel.objects.filter(code__in=codes)
            .order_by("rank")
            .values_list("rank", "threshold_points")
        )
        assert len({rank for rank, _ in levels}) == len(levels)
        thresholds = [points for _, points in levels]
        assert thresholds == sorted(set(thresholds))
    finally:
        TierLevel.objects.filter(code__in=codes).delete()
