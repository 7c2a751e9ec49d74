"""A claimed attempt marks its delivery ``sending``; every unfinished delivery has
a ``next_attempt_at`` (the sweep looks for overdue ones). Deliveries logged before
this that never had an attempt recorded are due since they were created."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.RunSQL(
            "UPDATE loyalty_graphql_webhookdelivery SET next_attempt_at = created_at"
            " WHERE status = 'pending' AND next_attempt_at IS NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
