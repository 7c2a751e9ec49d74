"""A budgeted campaign's counter becomes 16 buckets (see ``CampaignBudgetBucket``).

Each existing budgeted campaign gets its buckets with the shares the service
gives (budget // 16, one more for the first budget % 16), and what it had issued
is poured into them in order, never past a share (it never passed the budget).
"""

import django.db.models.deletion
from django.db import migrations, models


# Checked at once: a foreign key check left pending would refuse the ALTER TABLE
# that drops the old counter.
BACKFILL = """
SET CONSTRAINTS ALL IMMEDIATE;
INSERT INTO earning_campaignbudgetbucket (campaign_id, bucket, allotted, issued)
SELECT id, n, share,
       greatest(0, least(share, issued_points - (sum(share) OVER (PARTITION BY id ORDER BY n)
                                                 - share)))
  FROM (SELECT c.id, n, c.issued_points,
               c.budget_points / 16 + CASE WHEN n < c.budget_points % 16 THEN 1 ELSE 0 END
                 AS share
          FROM earning_campaign c, generate_series(0, 15) AS n
         WHERE c.budget_points IS NOT NULL) AS shares;
SET CONSTRAINTS ALL DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("earning", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignBudgetBucket",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("bucket", models.PositiveSmallIntegerField()),
                ("allotted", models.BigIntegerField()),
                ("issued", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="campaign",
            name="campaign_within_budget",
        ),
        migrations.RemoveConstraint(
            model_name="campaign",
            name="campaign_issued_not_negative",
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("budget_points__isnull", True), ("budget_points__gte", 0), _connector="OR"
                ),
                name="campaign_budget_not_negative",
            ),
        ),
        migrations.AddField(
            model_name="campaignbudgetbucket",
            name="campaign",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="earning.campaign"
            ),
        ),
        migrations.AddConstraint(
            model_name="campaignbudgetbucket",
            constraint=models.UniqueConstraint(
                fields=("campaign", "bucket"), name="one_budget_bucket"
            ),
        ),
        migrations.AddConstraint(
            model_name="campaignbudgetbucket",
            constraint=models.CheckConstraint(
                condition=models.Q(("issued__gte", 0), ("issued__lte", models.F("allotted"))),
                name="budget_bucket_within_its_share",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RemoveField(
            model_name="campaign",
            name="issued_points",
        ),
    ]
