"""Partner adjustments in the daily rollups: points added, points taken back and
how many adjustments, per partner and day.

The days already folded did not count adjustments, so the new columns are filled
from the journal up to the rollups' watermark (adjustments only: one pass over the
journal's adjustment rows); what lies above the watermark is folded as usual.
"""

from django.db import migrations, models

BACKFILL = """
INSERT INTO public.analytics_partnerday AS d
       (partner_id, day, points_issued, points_issue_reversed, points_redeemed,
        points_redeem_reversed, earn_count, redeem_count, active_members,
        points_adjusted_added, points_adjusted_taken_back, adjustment_count)
SELECT t.partner_id, (t.created_at AT TIME ZONE p.time_zone)::date, 0, 0, 0, 0, 0, 0, 0,
       coalesce(sum(t.points) FILTER (WHERE t.kind = 'adjustment_credit'), 0),
       coalesce(sum(t.points) FILTER (WHERE t.kind = 'adjustment_debit'), 0),
       count(*)
  FROM public.ledger_transaction t
  JOIN public.partners_partner p ON p.id = t.partner_id
 WHERE t.kind IN ('adjustment_credit', 'adjustment_debit')
   AND t.id <= coalesce((SELECT transaction_id FROM public.analytics_watermark
                          WHERE name = 'partner_day'), 0)
 GROUP BY 1, 2
ON CONFLICT (partner_id, day) DO UPDATE SET
       points_adjusted_added = excluded.points_adjusted_added,
       points_adjusted_taken_back = excluded.points_adjusted_taken_back,
       adjustment_count = excluded.adjustment_count
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("ledger", "0006_adjustment_kinds"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerday",
            name="adjustment_count",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="points_adjusted_added",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="partnerday",
            name="points_adjusted_taken_back",
            field=models.BigIntegerField(default=0),
        ),
        # Undoing drops the columns, so the reverse needs no SQL of its own.
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
