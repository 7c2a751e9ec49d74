"""Periods are closed by ledger watermark while earns keep committing: every earn
lands in exactly one closed period, and the issued points of the statements add
up to the points earned. Committed data (``live_db``), real threads."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from typing import Any

from django.db import connection

from coalition.ledger import services as ledger
from coalition.ledger.services import EarnRequest
from coalition.settlement.models import LineKind, SettlementPeriod, StatementLine
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import run_threads, unique_member
from tests.testkit.settlement import (
    NEUTRAL_FROM,
    close_everything_before,
    close_now,
    known_terms,
    onboard_partner,
)

WRITERS = 8
SECONDS = 2.0
CLOSE_EVERY = 0.15
BATCH = 5


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` test alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_every_concurrent_earn_lands_in_exactly_one_closed_period(live_db: Any) -> None:
    assert_on_test_database()
    # given an issuer of its own (so its statements hold only this test's earns)
    issuer = onboard_partner("watermark", "EUR")
    known_terms(issuer, issuance_price="1.0", reimbursement_rate="1.0", effective_from=NEUTRAL_FROM)
    before = close_everything_before()
    members = [unique_member("watermark").pk for _ in range(4 * WRITERS)]
    posted: list[list[tuple[int, int]]] = [[] for _ in range(WRITERS)]
    closed: list[int] = []
    barrier = threading.Barrier(WRITERS + 1)
    deadline = [0.0]

    def work(index: int) -> None:
        if index == 0:
            deadline[0] = time.monotonic() + SECONDS
        barrier.wait(timeout=60)
        if index == WRITERS:
            # the closer: close the open period again and again while earns commit
            while time.monotonic() < deadline[0]:
                closed.append(close_now().pk)
                time.sleep(CLOSE_EVERY)
            return
        # a writer: single earns or small batches, for its own members
        own, rng = members[index::WRITERS], random.Random(index)
        while time.monotonic() < deadline[0]:
            if index % 2:
                items = [
                    EarnRequest(member_id=rng.choice(own), partner_id=issuer.pk,
                                points=rng.randint(1, 90))
                    for _ in range(BATCH)
                ]  # fmt: skip
                for item, posting in zip(items, ledger.earn_batch(items), strict=True):
                    posted[index].append((posting.transaction_id, item.points))
            else:
                points = rng.randint(1, 90)
                posting = ledger.earn(
                    member_id=rng.choice(own), partner_id=issuer.pk, points=points
                )
                posted[index].append((posting.transaction_id, points))

    # when 8 writers earn for 2 seconds while a ninth thread keeps closing periods
    outcomes = run_threads(WRITERS + 1, work)
    assert [o.error for o in outcomes if o.error] == []
    last = close_now()  # and one close after the writers stopped
    connection.close()

    earns = dict(pair for thread in posted for pair in thread)
    assert len(earns) == sum(len(thread) for thread in posted) > 100
    periods = list(
        SettlementPeriod.objects.filter(status="closed", number__gt=before.number).order_by(
            "number"
        )
    )
    assert periods[-1].pk == last.pk
    assert len(closed) >= 3
    # then the closed periods follow each other without gap or overlap
    for earlier, later in itertools.pairwise(periods):
        assert later.start_watermark == earlier.end_watermark
    # and every earn lies in (start, end] of exactly one closed period of all
    bounds = list(
        SettlementPeriod.objects.filter(status="closed").values_list(
            "start_watermark", "end_watermark"
        )
    )
    homes = {
        tx_id: [(start, end) for start, end in bounds if start < tx_id <= end] for tx_id in earns
    }
    assert {tx_id: len(found) for tx_id, found in homes.items() if len(found) != 1} == {}
    # and several of the periods closed under load received some of them
    landed = {home[0] for home in homes.values()}
    assert len(landed) >= 2, f"all {len(earns)} earns landed in one period"

    # and, period by period, the issuer's statement issued exactly those earns' points
    issued: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in StatementLine.objects.filter(
        statement__partner=issuer, kind=LineKind.ISSUED
    ).select_related("statement"):
        issued[line.statement.period_id][0] += line.points
        issued[line.statement.period_id][1] += line.transactions
    expected: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
    for period in periods:
        assert period.end_watermark is not None
        for tx_id, points in earns.items():
            if period.start_watermark < tx_id <= period.end_watermark:
                expected[period.pk][0] += points
                expected[period.pk][1] += 1
    assert dict(issued) == dict(expected)
    # so over all periods the statements issued the points of all the earns
    assert sum(points for points, _ in issued.values()) == sum(earns.values())
