"""Reading a partner's figures: the rollups plus the few transactions committed
since the last fold, so the dashboard is exact without scanning the journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection

from coalition.analytics.services import (
    ACTIVE,
    ADJUSTED_ADDED,
    ADJUSTED_TAKEN_BACK,
    ISSUED,
    REDEEMED,
    WATERMARK,
)


@dataclass(frozen=True)
class DayFigures:
    day: date
    issued: int
    redeemed: int
    earns: int
    redeems: int
    active_members: int
    adjusted_added: int = 0  # points partner adjustments added
    adjusted_taken_back: int = 0  # points partner adjustments took back


@dataclass(frozen=True)
class PartnerFigures:
    today: DayFigures
    days: list[DayFigures]  # oldest first, one per day, zeros included
    active_members_period: int
    folded_upto: int  # the journal transaction the rollups include


FIGURES = 7  # the numbers of a DayFigures, in its order

TAIL_SQL = """
SELECT (t.created_at AT TIME ZONE %(tz)s)::date AS day,
       coalesce(sum(t.points) FILTER (WHERE t.kind = ANY(%(issued)s)), 0),
       coalesce(sum(t.points) FILTER (WHERE t.kind = ANY(%(redeemed)s)), 0),
       count(*) FILTER (WHERE t.kind = ANY(%(issued)s)),
       count(*) FILTER (WHERE t.kind = ANY(%(redeemed)s)),
       count(DISTINCT t.member_id) FILTER (
           WHERE t.kind = ANY(%(active)s) AND NOT EXISTS (
               SELECT 1 FROM public.analytics_memberactivity m
                WHERE m.partner_id = t.partner_id AND m.member_id = t.member_id
                  AND m.last_day >= (t.created_at AT TIME ZONE %(tz)s)::date)),
       coalesce(sum(t.points) FILTER (WHERE t.kind = ANY(%(adjusted_added)s)), 0),
       coalesce(sum(t.points) FILTER (WHERE t.kind = ANY(%(adjusted_taken_back)s)), 0)
  FROM public.ledger_transaction t
 WHERE t.id > %(after)s AND t.partner_id = %(partner)s
 GROUP BY 1
"""


def partner_figures(
    *, partner_id: int, time_zone: str, today: date, days: int = 30
) -> PartnerFigures:
    first = today - timedelta(days=days - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce((SELECT transaction_id FROM public.analytics_watermark "
            "WHERE name = %s), 0)",
            [WATERMARK],
        )
        (folded,) = cursor.fetchone()
        cursor.execute(
            "SELECT day, points_issued, points_redeemed, earn_count, redeem_count, active_members,"
            " points_adjusted_added, points_adjusted_taken_back "
            "FROM public.analytics_partnerday WHERE partner_id = %s AND day BETWEEN %s AND %s",
            [partner_id, first, today],
        )
        by_day = {row[0]: list(row[1:]) for row in cursor.fetchall()}
        cursor.execute(
            TAIL_SQL,
            {
                "tz": time_zone,
                "issued": list(ISSUED),
                "redeemed": list(REDEEMED),
                "active": list(ACTIVE),
                "adjusted_added": list(ADJUSTED_ADDED),
                "adjusted_taken_back": list(ADJUSTED_TAKEN_BACK),
                "after": folded,
                "partner": partner_id,
            },
        )
        tail = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM public.analytics_memberactivity "
            "WHERE partner_id = %s AND last_day >= %s",
            [partner_id, first],
        )
        (active_period,) = cursor.fetchone()
        # Members active since the last fold who were not active earlier in the period.
        cursor.execute(
            "SELECT count(DISTINCT t.member_id) FROM public.ledger_transaction t "
            "WHERE t.id > %s AND t.partner_id = %s AND t.kind = ANY(%s) "
            "AND t.member_id IS NOT NULL AND NOT EXISTS ("
            " SELECT 1 FROM public.analytics_memberactivity m WHERE m.partner_id = t.partner_id"
            " AND m.member_id = t.member_id AND m.last_day >= %s)",
            [folded, partner_id, list(ACTIVE), first],
        )
        (active_tail,) = cursor.fetchone()
    for day, *figures in tail:
        if first <= day <= today:
            row = by_day.setdefault(day, [0] * FIGURES)
            by_day[day] = [a + int(b) for a, b in zip(row, figures, strict=True)]
    active_period += int(active_tail)
    series = [
        DayFigures(first + timedelta(days=i), *by_day.get(first + timedelta(days=i), [0] * FIGURES))
        for i in range(days)
    ]
    return PartnerFigures(
        today=series[-1], days=series, active_members_period=active_period, folded_upto=folded
    )
