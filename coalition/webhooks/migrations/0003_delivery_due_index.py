"""The sweep's index: unfinished deliveries by when they are due. Built
concurrently, so purchases that log deliveries are not blocked meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("webhooks", "0002_delivery_sending_status"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "sending"])),
                fields=["next_attempt_at"],
                name="webhooks_delivery_due_idx",
            ),
        ),
    ]
