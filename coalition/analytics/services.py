"""Folding journal transactions into the daily rollups.

``rollups_advance`` takes the rollup's advisory lock (one folder at a time),
reads the safe watermark (every transaction below it has committed) and folds
the transactions between the stored watermark and it, in batches, each batch in
one database transaction with the new watermark: a crash loses nothing and
counts nothing twice. ``rollups_rebuild`` starts from zero.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from coalition.ledger.selectors import safe_watermark

WATERMARK = "partner_day"
BATCH = 50_000
LOCK_KEY = 7_301_001  # pg_advisory_xact_lock key of the rollup folder

# Kinds of journal transactions and what they count as at their partner.
ISSUED = ("earn",)
ISSUE_REVERSED = ("earn_reversal",)
REDEEMED = ("burn", "capture")
REDEEM_REVERSED = ("burn_reversal",)
ADJUSTED_ADDED = ("adjustment_credit",)
ADJUSTED_TAKEN_BACK = ("adjustment_debit",)
ADJUSTED = ADJUSTED_ADDED + ADJUSTED_TAKEN_BACK
# A member is active at a partner on a day they earned or spent points there: an
# adjustment is the partner's act, not a visit by the member, so it is not counted
# here (it is activity for inactivity expiry: ``coalition.expiry.services``).
ACTIVE = ISSUED + REDEEMED

FOLD_SQL = """
WITH batch AS (
    SELECT t.partner_id, (t.created_at AT TIME ZONE p.time_zone)::date AS day,
           t.kind, t.points, t.member_id
      FROM public.ledger_transaction t
      JOIN public.partners_partner p ON p.id = t.partner_id
     WHERE t.id > %(lo)s AND t.id <= %(hi)s
),
active AS (
    SELECT DISTINCT partner_id, member_id, day FROM batch
     WHERE member_id IS NOT NULL AND kind = ANY(%(active)s)
),
-- A (partner, member, day) is a new active day when it is later than the member's
-- last active day there; several new days of one member in a batch all count.
new_days AS (
    SELECT a.partner_id, a.day, count(*) AS members
      FROM active a
      LEFT JOIN public.analytics_memberactivity m
             ON m.partner_id = a.partner_id AND m.member_id = a.member_id
     WHERE m.last_day IS NULL OR a.day > m.last_day
     GROUP BY a.partner_id, a.day
),
sums AS (
    SELECT partner_id, day,
           sum(points) FILTER (WHERE kind = ANY(%(issued)s)) AS issued,
           sum(points) FILTER (WHERE kind = ANY(%(issue_reversed)s)) AS issue_reversed,
           sum(points) FILTER (WHERE kind = ANY(%(redeemed)s)) AS redeemed,
           sum(points) FILTER (WHERE kind = ANY(%(redeem_reversed)s)) AS redeem_reversed,
           count(*) FILTER (WHERE kind = ANY(%(issued)s)) AS earns,
           count(*) FILTER (WHERE kind = ANY(%(redeemed)s)) AS redeems,
           sum(points) FILTER (WHERE kind = ANY(%(adjusted_added)s)) AS adjusted_added,
           sum(points) FILTER (WHERE kind = ANY(%(adjusted_taken_back)s)) AS adjusted_taken_back,
           count(*) FILTER (WHERE kind = ANY(%(adjusted)s)) AS adjustments
      FROM batch GROUP BY partner_id, day
),
folded AS (
    INSERT INTO public.analytics_partnerday AS d
           (partner_id, day, points_issued, points_issue_reversed, points_redeemed,
            points_redeem_reversed, earn_count, redeem_count, active_members,
            points_adjusted_added, points_adjusted_taken_back, adjustment_count)
    SELECT s.partner_id, s.day, coalesce(s.issued, 0), coalesce(s.issue_reversed, 0),
           coalesce(s.redeemed, 0), coalesce(s.redeem_reversed, 0), s.earns, s.redeems,
           coalesce(n.members, 0), coalesce(s.adjusted_added, 0),
           coalesce(s.adjusted_taken_back, 0), s.adjustments
      FROM sums s LEFT JOIN new_days n ON n.partner_id = s.partner_id AND n.day = s.day
    ON CONFLICT (partner_id, day) DO UPDATE SET
           points_issued = d.points_issued + excluded.points_issued,
           points_issue_reversed = d.points_issue_reversed + excluded.points_issue_reversed,
           points_redeemed = d.points_redeemed + excluded.points_redeemed,
           points_redeem_reversed = d.points_redeem_reversed + excluded.points_redeem_reversed,
           earn_count = d.earn_count + excluded.earn_count,
           redeem_count = d.redeem_count + excluded.redeem_count,
           active_members = d.active_members + excluded.active_members,
           points_adjusted_added = d.points_adjusted_added + excluded.points_adjusted_added,
           points_adjusted_taken_back =
               d.points_adjusted_taken_back + excluded.points_adjusted_taken_back,
           adjustment_count = d.adjustment_count + excluded.adjustment_count
    RETURNING 1
)
INSERT INTO public.analytics_memberactivity AS m (partner_id, member_id, last_day)
SELECT partner_id, member_id, max(day) FROM active GROUP BY partner_id, member_id
ON CONFLICT (partner_id, member_id) DO UPDATE SET last_day = excluded.last_day
 WHERE m.last_day < excluded.last_day
"""


def _params(lo: int, hi: int) -> dict[str, Any]:
    return {
        "lo": lo,
        "hi": hi,
        "active": list(ACTIVE),
        "issued": list(ISSUED),
        "issue_reversed": list(ISSUE_REVERSED),
        "redeemed": list(REDEEMED),
        "redeem_reversed": list(REDEEM_REVERSED),
        "adjusted_added": list(ADJUSTED_ADDED),
        "adjusted_taken_back": list(ADJUSTED_TAKEN_BACK),
        "adjusted": list(ADJUSTED),
    }


def rollups_advance(*, batch: int = BATCH, upto: int | None = None) -> int:
    """Fold every committed transaction not yet folded; returns the new watermark."""
    target = safe_watermark() if upto is None else upto
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            cursor.execute(
                "INSERT INTO public.analytics_watermark (name, transaction_id, updated_at) "
                "VALUES (%s, 0, now()) ON CONFLICT (name) DO NOTHING",
                [WATERMARK],
            )
            cursor.execute(
                "SELECT transaction_id FROM public.analytics_watermark WHERE name = %s FOR UPDATE",
                [WATERMARK],
            )
            (done,) = cursor.fetchone()
            if done >= target:
                return int(done)
            hi = min(target, done + batch)
            # The CTEs write in one statement; the sums CTE reads activity as it was
            # before this statement, which is what new_days needs.
            cursor.execute(FOLD_SQL, _params(done, hi))
            cursor.execute(
                "UPDATE public.analytics_watermark SET transaction_id = %s, updated_at = now() "
                "WHERE name = %s",
                [hi, WATERMARK],
            )


def rollups_rebuild() -> int:
    """Forget the rollups and fold the whole journal again."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cursor.execute("DELETE FROM public.analytics_partnerday")
        cursor.execute("DELETE FROM public.analytics_memberactivity")
        cursor.execute("DELETE FROM public.analytics_watermark WHERE name = %s", [WATERMARK])
    return rollups_advance()
