"""Campaign budgets: what a budgeted campaign may still give, counted in buckets
(call inside the partner's schema).

A budgeted campaign's points are counted by ``BUCKETS`` rows
(``CampaignBudgetBucket``), each with its share of the budget, the way the
ledger keeps its hot accounts off a single row. A purchase takes from its
member's bucket in one statement that locks that row only; when the bucket
cannot cover all of it, the purchase locks every bucket of the campaign in
bucket order and takes what is left anywhere, so a purchase is clipped only by
what is left of the whole budget, as with one counter. No bucket issues past its
share (a CHECK constraint too), so the campaign never issues past its budget.
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from psycopg.types.numeric import Int8

from loyalty_kernel import driver_sql
from loyalty_kernel.tenancy import current_schema
from tenants.earning.errors import EarningError
from tenants.earning.selectors import schema_sql

BUCKETS = 16

# The buckets of a budgeted campaign, each with its share: budget // BUCKETS, one
# more for the first budget % BUCKETS (migration 0002 gave existing campaigns
# the same). Creating them twice changes nothing.
_BUCKETS_SQL = """
INSERT INTO {s}.earning_campaignbudgetbucket (campaign_id, bucket, allotted, issued)
SELECT c.id, n, c.budget_points / {n} + CASE WHEN n < c.budget_points %% {n} THEN 1 ELSE 0 END, 0
  FROM {s}.earning_campaign c, generate_series(0, {n} - 1) AS n
 WHERE c.id = %(campaign)s AND c.budget_points IS NOT NULL
ON CONFLICT (campaign_id, bucket) DO NOTHING
"""

# The common case: the member's bucket covers all of it (its row alone is locked,
# and read). Otherwise, what is left in all buckets (NULL: the campaign has no
# buckets yet), read only then: the CASE runs its subquery only when the member's
# bucket fell short, so the common case does not read the other buckets' rows,
# the ones every concurrent purchase of the campaign is updating.
_TAKE_FROM_ONE_SQL = """
WITH took AS (
  UPDATE {s}.earning_campaignbudgetbucket SET issued = issued + %(points)s::bigint
   WHERE campaign_id = %(campaign)s::bigint AND bucket = %(bucket)s::int
     AND issued + %(points)s::bigint <= allotted
  RETURNING 1
)
SELECT took.done,
       CASE WHEN took.done THEN NULL ELSE
         (SELECT sum(allotted - issued) FROM {s}.earning_campaignbudgetbucket
           WHERE campaign_id = %(campaign)s::bigint) END
  FROM (SELECT EXISTS (SELECT 1 FROM took) AS done) AS took
"""

_LOCK_ALL_SQL = """
SELECT bucket, allotted - issued FROM {s}.earning_campaignbudgetbucket
 WHERE campaign_id = %(campaign)s ORDER BY bucket FOR UPDATE
"""

_TAKE_FROM_MANY_SQL = """
UPDATE {s}.earning_campaignbudgetbucket AS b SET issued = b.issued + t.take
  FROM unnest(%(buckets)s::int[], %(takes)s::bigint[]) AS t(bucket, take)
 WHERE b.campaign_id = %(campaign)s AND b.bucket = t.bucket
"""


_SAVEPOINT = "budget_take"


@lru_cache(maxsize=4096)
def _sql(template: str, schema: str) -> str:
    return template.format(s=schema_sql(schema), n=BUCKETS)


def budget_buckets_create(*, campaign_id: int) -> None:
    """Give a budgeted campaign its buckets (nothing for an unlimited one)."""
    driver_sql.execute(_sql(_BUCKETS_SQL, current_schema()), {"campaign": campaign_id})


def _spread(points: int, own: int, left: list[tuple[int, int]]) -> dict[int, int]:
    """What to take from which bucket: the member's own bucket first, then the
    others in bucket order, at most ``points`` in all."""
    ordered = sorted(left, key=lambda bucket: (bucket[0] != own, bucket[0]))
    takes: dict[int, int] = {}
    for bucket, available in ordered:
        take = min(points - sum(takes.values()), max(0, available))
        if take > 0:
            takes[bucket] = take
    return takes


def _take_from_one(
    schema: str, campaign_id: int, points: int, bucket: int
) -> tuple[str, dict[str, object]]:
    """The statement taking ``points`` from one bucket if it covers them all."""
    return (
        _sql(_TAKE_FROM_ONE_SQL, schema),
        {"points": Int8(points), "campaign": Int8(campaign_id), "bucket": bucket},
    )


def _take(schema: str, campaign_id: int, points: int, bucket: int) -> int:
    """Take up to ``points`` from the campaign's budget: what was taken."""
    # Under a savepoint: an UPDATE that waited for the bucket and then found too
    # little in it still holds the row (PostgreSQL keeps the lock its re-check
    # took), and a purchase holding one bucket while it locks them all in order
    # could deadlock with another doing the same. Rolling back to the savepoint
    # lets go of it. The savepoint travels with the UPDATE: no round trip more.
    _, rows = driver_sql.prepared_pipeline(
        [(f"SAVEPOINT {_SAVEPOINT}", {}), _take_from_one(schema, campaign_id, points, bucket)]
    )
    took, left = rows[0] if rows else (False, None)
    if took:
        return points
    if left is not None and left <= 0:
        # Spent: shares only ever fill up, so no lock is needed to know it (a
        # bucket this holds is the campaign's only one it ever will: no deadlock).
        return 0
    driver_sql.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
    if left is None:  # a campaign made without campaign_create: its buckets now
        driver_sql.execute(_sql(_BUCKETS_SQL, schema), {"campaign": campaign_id})
    # Every bucket, locked in bucket order: no deadlock with another purchase
    # doing the same, and none with one holding a single bucket (it locks no more
    # of this campaign's).
    available = driver_sql.fetchall(_sql(_LOCK_ALL_SQL, schema), {"campaign": campaign_id})
    takes = _spread(points, bucket, [(int(b), int(a)) for b, a in available])
    if takes:
        driver_sql.execute(
            _sql(_TAKE_FROM_MANY_SQL, schema),
            {"campaign": campaign_id, "buckets": list(takes), "takes": list(takes.values())},
        )
    return sum(takes.values())


# A take from the member's bucket as the gate of the purchase's earn
# (``ledger.earn_gated_statement``): a row when the bucket covered all of it.
_GATE_SQL = """
UPDATE {s}.earning_campaignbudgetbucket SET issued = issued + %(take_points)s::bigint
 WHERE campaign_id = %(take_campaign)s::bigint AND bucket = %(take_bucket)s::int
   AND issued + %(take_points)s::bigint <= allotted
RETURNING 1
"""


def budget_take_gate(
    *, wanted: dict[int, int], budgeted: frozenset[int], member_id: int
) -> tuple[str, dict[str, object]] | None:
    """The common case of ``campaign_budget_take`` as the gate of the caller's earn
    (one statement for the take and the earn of all the points, no savepoint):
    when exactly one budgeted campaign wants points, the take of all of them from
    the member's bucket, which returns a row when the bucket covered them. None
    otherwise: several budgeted campaigns are taken in turn, in campaign id order
    (``campaign_budget_take``), so that two purchases never lock two buckets in
    opposite orders. When the gate returns no row, the bucket fell short (or the
    campaign has no buckets yet): the caller rolls its transaction back, which lets
    go of the row its UPDATE may have waited for, and takes in turn."""
    takes = [c for c in sorted(wanted) if c in budgeted and wanted[c] > 0]
    if len(takes) != 1:
        return None
    campaign_id = takes[0]
    return (
        _sql(_GATE_SQL, current_schema()),
        {
            "take_points": Int8(wanted[campaign_id]),
            "take_campaign": Int8(campaign_id),
            "take_bucket": member_id % BUCKETS,
        },
    )


def campaign_budget_take(
    *, wanted: dict[int, int], budgeted: frozenset[int], member_id: int
) -> dict[int, int]:
    """Grant each campaign the points it wants ({campaign id: points}), a budgeted
    one clipped to what is left of its budget: what each was granted.

    The caller takes budgets last in its transaction (just before the ledger earn
    and the commit), so a bucket is locked for a few statements, not the whole
    purchase. Campaigns are taken in id order and each one's buckets in bucket
    order: no deadlocks. Unbudgeted campaigns are never touched (their total is
    the sum over purchases' breakdowns).
    """
    if not connection.in_atomic_block:
        raise EarningError("campaign budgets are taken inside the purchase's transaction")
    schema = current_schema()
    granted: dict[int, int] = {}
    for campaign_id in sorted(wanted):
        points = wanted[campaign_id]
        if campaign_id not in budgeted:
            granted[campaign_id] = points
            continue
        give = _take(schema, campaign_id, points, member_id % BUCKETS) if points > 0 else 0
        if give:
            granted[campaign_id] = give
    return granted
