"""Qualifying months keep a fixed-size row: the month's total and its bounds.

0002 kept every entry of the month in two arrays (``times``, ``amounts``), so a
window cut inside a month could be summed from the row alone. But every earn
rewrote its member's row with arrays one entry longer: a member earning often
made each later earn dearer within the month (the demo workload's purchase cost
grew with the member's history). Now the row holds the month's ``points`` and
the first and last instant and journal transaction id of its entries:

- a month wholly inside the window counts its total;
- so does a month the window cuts if all its entries fall inside the window
  (``first_at >= start`` and ``last_at < end``: the month the check after a
  purchase ends in, always);
- any other month (the one a rolling window starts in) sums the member's
  wallet entries from the journal between the month's first and last transaction
  ids: an index range over that one month, never the member's whole history.

The rows are rebuilt from the journal under a SHARE lock on ``ledger_entry``, as
0002's backfill did: no entry posted meanwhile is missed or counted twice.
"""

from django.db import migrations, models

_ADD_ENTRIES = """
INSERT INTO public.tiers_qualifyingmonth AS q
       (member_id, month, points, first_at, last_at, first_tx, last_tx)
SELECT a.member_id, date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date, sum(n.amount),
       min(t.created_at), max(t.created_at), min(t.id), max(t.id)
  FROM {entries} n
  JOIN public.ledger_account a ON a.id = n.account_id
  JOIN public.ledger_transaction t ON t.id = n.transaction_id
 WHERE a.kind = 'wallet' AND t.kind IN ('earn', 'earn_reversal')
 GROUP BY 1, 2
 ORDER BY 1, 2
ON CONFLICT (member_id, month) DO UPDATE
   SET points = q.points + EXCLUDED.points,
       first_at = least(q.first_at, EXCLUDED.first_at),
       last_at = greatest(q.last_at, EXCLUDED.last_at),
       first_tx = least(q.first_tx, EXCLUDED.first_tx),
       last_tx = greatest(q.last_tx, EXCLUDED.last_tx)
"""

_FUNCTION = """
CREATE OR REPLACE FUNCTION public.tiers_qualifying_months_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
{body};
    RETURN NULL;
END
$$;
"""

FORWARD = (
    """
LOCK TABLE public.ledger_entry IN SHARE MODE;
TRUNCATE public.tiers_qualifyingmonth;
ALTER TABLE public.tiers_qualifyingmonth
    DROP COLUMN times, DROP COLUMN amounts,
    ADD COLUMN first_at timestamptz NOT NULL, ADD COLUMN last_at timestamptz NOT NULL,
    ADD COLUMN first_tx bigint NOT NULL, ADD COLUMN last_tx bigint NOT NULL;
"""
    + _FUNCTION.format(body=_ADD_ENTRIES.format(entries="new_entries"))
    + _ADD_ENTRIES.format(entries="public.ledger_entry")
    + ";"
)

_OLD_ADD_ENTRIES = """
INSERT INTO public.tiers_qualifyingmonth AS q (member_id, month, points, times, amounts)
SELECT a.member_id, date_trunc('month', t.created_at AT TIME ZONE 'UTC')::date, sum(n.amount),
       array_agg(t.created_at ORDER BY n.id), array_agg(n.amount ORDER BY n.id)
  FROM {entries} n
  JOIN public.ledger_account a ON a.id = n.account_id
  JOIN public.ledger_transaction t ON t.id = n.transaction_id
 WHERE a.kind = 'wallet' AND t.kind IN ('earn', 'earn_reversal')
 GROUP BY 1, 2
 ORDER BY 1, 2
ON CONFLICT (member_id, month) DO UPDATE
   SET points = q.points + EXCLUDED.points,
       times = q.times || EXCLUDED.times,
       amounts = q.amounts || EXCLUDED.amounts
"""

BACKWARD = (
    """
LOCK TABLE public.ledger_entry IN SHARE MODE;
TRUNCATE public.tiers_qualifyingmonth;
ALTER TABLE public.tiers_qualifyingmonth
    DROP COLUMN first_at, DROP COLUMN last_at, DROP COLUMN first_tx, DROP COLUMN last_tx,
    ADD COLUMN times timestamptz[] NOT NULL, ADD COLUMN amounts bigint[] NOT NULL;
"""
    + _FUNCTION.format(body=_OLD_ADD_ENTRIES.format(entries="new_entries"))
    + _OLD_ADD_ENTRIES.format(entries="public.ledger_entry")
    + ";"
)


class Migration(migrations.Migration):
    dependencies = [("tiers", "0002_qualifying_month")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.RemoveField(model_name="qualifyingmonth", name="times"),
                migrations.RemoveField(model_name="qualifyingmonth", name="amounts"),
                migrations.AddField(
                    model_name="qualifyingmonth",
                    name="first_at",
                    field=models.DateTimeField(),
                ),
                migrations.AddField(
                    model_name="qualifyingmonth",
                    name="last_at",
                    field=models.DateTimeField(),
                ),
                migrations.AddField(
                    model_name="qualifyingmonth",
                    name="first_tx",
                    field=models.BigIntegerField(),
                ),
                migrations.AddField(
                    model_name="qualifyingmonth",
                    name="last_tx",
                    field=models.BigIntegerField(),
                ),
            ],
        ),
    ]
