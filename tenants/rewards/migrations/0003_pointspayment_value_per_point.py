"""Points payments keep the value per point of their authorisation.

Payments authorised before this migration get the partner's value per point in
force now, which is what their capture would have used until now (or, without
published settings, what their own amount and points imply). An index serves
the hold-expiry job, which looks for authorised payments only.
"""

from django.db import migrations, models

BACKFILL = """
UPDATE rewards_pointspayment
   SET value_per_point = coalesce(
       (SELECT value_per_point FROM rewards_pointspaymentsettings ORDER BY id LIMIT 1),
       round(amount::numeric / points, 4)
   )
 WHERE value_per_point IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0002_voucher_consumed_key_voucher_consumed_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="pointspayment",
            name="value_per_point",
            field=models.DecimalField(decimal_places=4, max_digits=12, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="pointspayment",
            name="value_per_point",
            field=models.DecimalField(decimal_places=4, max_digits=12),
        ),
        migrations.AddIndex(
            model_name="pointspayment",
            index=models.Index(
                condition=models.Q(("status", "authorized")),
                fields=["hold_id"],
                name="rewards_payment_authorized",
            ),
        ),
    ]
