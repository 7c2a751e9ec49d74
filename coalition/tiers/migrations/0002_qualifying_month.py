"""Members' qualifying points per UTC month, kept by the statement that posts them.

A statement-level trigger on ``ledger_entry`` adds each statement's wallet
entries of earns and earn reversals to their member's month (one INSERT ... ON
CONFLICT per statement, however many entries): the earn, the batch earn and the
reversal statements keep the aggregate without a round trip of their own. The
backfill sums the journal so far under a SHARE lock on ``ledger_entry``, so no
entry posted meanwhile is missed or counted twice.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


# What one statement's entries add: grouped by member and month, in key order (rows
# locked in one order: no deadlocks between batch earns).
_ADD_ENTRIES = """
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

ADD_TRIGGER = (
    """
LOCK TABLE public.ledger_entry IN SHARE MODE;
CREATE FUNCTION public.tiers_qualifying_months_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
"""
    + _ADD_ENTRIES.format(entries="new_entries")
    + """;
    RETURN NULL;
END
$$;
CREATE TRIGGER tiers_qualifying_months AFTER INSERT ON public.ledger_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION public.tiers_qualifying_months_add();
"""
    + _ADD_ENTRIES.format(entries="public.ledger_entry")
    + ";"
)

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS tiers_qualifying_months ON public.ledger_entry;
DROP FUNCTION IF EXISTS public.tiers_qualifying_months_add();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0005_alter_transaction_kind"),
        ("members", "0006_member_member_enrolled_by_at"),
        ("tiers", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="QualifyingMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField()),
                ("points", models.BigIntegerField()),
                (
                    "times",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.DateTimeField(), size=None
                    ),
                ),
                (
                    "amounts",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), size=None
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="members.member",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("member", "month"), name="one_qualifying_month")
                ],
            },
        ),
        migrations.RunSQL(ADD_TRIGGER, DROP_TRIGGER),
    ]
