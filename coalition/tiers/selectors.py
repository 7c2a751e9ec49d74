"""Reads of the tier programme: the SQL that reads the tier tables.

Each read is one scalar SQL expression (``*_sql``) and a parser. The purchase's
pricing snapshot and the upgrade check after a purchase embed the expressions in
their own statements; the functions here run the same expressions alone. There is
no second copy of any of these rules.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from coalition.tiers.models import TierLevel, TierPolicy
from loyalty_kernel import driver_sql


def _json(value: Any) -> Any:
    # Django's psycopg set-up hands json to driver cursors as text.
    return json.loads(value) if isinstance(value, str) else value


# --- levels and policy ----------------------------------------------------------------

_LEVEL_COLUMNS = ["id", "code", "name", "rank", "threshold_points"]


def levels_sql() -> str:
    """A JSON array of the tier levels, lowest rank first; NULL when there are none."""
    return """(SELECT json_agg(l ORDER BY l.rank) FROM (
     SELECT id, code, name, rank, threshold_points FROM public.tiers_tierlevel) l)"""


def levels_from(value: Any) -> list[TierLevel]:
    return [
        TierLevel.from_db("default", _LEVEL_COLUMNS, [row[name] for name in _LEVEL_COLUMNS])
        for row in _json(value) or ()
    ]


def tiers_defined_sql() -> str:
    """True when the programme has tier levels (without them there is nothing to
    reach, and the purchase path skips the upgrade check)."""
    return "EXISTS (SELECT 1 FROM public.tiers_tierlevel)"


def level_for(levels: list[TierLevel], points: int) -> TierLevel | None:
    """The highest level these qualifying points reach (levels lowest first)."""
    reached = [level for level in levels if level.threshold_points <= points]
    return reached[-1] if reached else None


def tier_policy_sql() -> str:
    """The programme's policy row as JSON (the first one), NULL when none is set."""
    return """(SELECT row_to_json(p) FROM (
     SELECT id, qualification, grace_days FROM public.tiers_tierpolicy ORDER BY id LIMIT 1) p)"""


def tier_policy_from(value: Any) -> TierPolicy:
    """The policy from ``tier_policy_sql``'s value (None: the defaults apply)."""
    values = _json(value)
    return TierPolicy(**values) if values else TierPolicy()


def tier_policy() -> TierPolicy:
    row = driver_sql.fetchone(f"SELECT {tier_policy_sql()}")
    return tier_policy_from(row[0] if row else None)


# --- a member's tier and qualifying points ---------------------------------------------


def member_tier_code_sql(*, member: str) -> str:
    """The code of the level the member ``member`` (an SQL expression for their
    id) holds, NULL if they have none yet."""
    return f"""(SELECT l.code FROM public.tiers_membertier t
     JOIN public.tiers_tierlevel l ON l.id = t.level_id WHERE t.member_id = {member})"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def tier_code_of(member_id: int) -> str | None:
    row = driver_sql.fetchone(
        f"SELECT {member_tier_code_sql(member='%(member)s')}", {"member": member_id}
    )
    return row[0] if row else None


def qualifying_points_sql(*, member: str, start: str, end: str) -> str:
    """Points the member earned in [start, end) at every partner: earns minus their
    reversals (never the balance). ``member``, ``start`` and ``end`` are SQL
    expressions (parameters, usually).

    Read from the member's qualifying months (``QualifyingMonth``), not the
    journal: a month whose entries all fall inside the window counts its total
    (every month wholly inside it, and the month the check after a purchase ends
    in); a month the window cuts through its entries (the one a rolling window
    starts in) sums its wallet entries from the journal, an index range between
    the month's first and last transaction ids. At most 13 rows and one month of
    entries for a year's window, whatever the member's history; the journal's sum
    is the definition it agrees with (tests/coalition/tiers/test_qualifying_months.py).
    """
    since, until = f"({start})::timestamptz", f"({end})::timestamptz"
    month_start = "(q.month::timestamp AT TIME ZONE 'UTC')"
    month_end = "((q.month + interval '1 month') AT TIME ZONE 'UTC')"
    return f"""(SELECT coalesce(sum(CASE
       WHEN q.first_at >= {until} OR q.last_at < {since} THEN 0
       WHEN q.first_at >= {since} AND q.last_at < {until} THEN q.points
       ELSE (SELECT coalesce(sum(n.amount), 0)
               FROM public.ledger_account a
               JOIN public.ledger_entry n ON n.account_id = a.id
               JOIN public.ledger_transaction t ON t.id = n.transaction_id
              WHERE a.member_id = q.member_id AND a.kind = 'wallet'
                AND n.transaction_id BETWEEN q.first_tx AND q.last_tx
                AND t.kind IN ('earn', 'earn_reversal')
                AND t.created_at >= greatest({since}, {month_start})
                AND t.created_at < least({until}, {month_end})) END), 0)
     FROM public.tiers_qualifyingmonth q
    WHERE q.member_id = {member}
      AND q.month >= date_trunc('month', {since} AT TIME ZONE 'UTC')::date
      AND q.month <= date_trunc('month', {until} AT TIME ZONE 'UTC')::date)"""  # noqa: S608 - identifiers and placeholders only, values are parameters


def qualifying_points(member_id: int, start: datetime, end: datetime) -> int:
    """Points earned in [start, end): earns minus their reversals, at all partners."""
    sql = qualifying_points_sql(member="%(member)s", start="%(start)s", end="%(end)s")
    row = driver_sql.fetchone(f"SELECT {sql}", {"member": member_id, "start": start, "end": end})
    return int(row[0]) if row else 0


def tier_levels_listed() -> list[TierLevel]:
    """The levels, lowest first, as the operator console lists them."""
    return list(TierLevel.objects.order_by("rank"))


def tier_level_of(code: str) -> TierLevel | None:
    return TierLevel.objects.filter(code=code).first()
