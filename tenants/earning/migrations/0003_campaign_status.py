"""Campaigns get a status (active, paused, ended) in place of ``is_active``, when
they were ended, and the idempotency key of the request that created them."""

from typing import Any

from django.db import migrations, models


def status_from_is_active(apps: Any, schema_editor: Any) -> None:
    Campaign = apps.get_model("earning", "Campaign")
    Campaign.objects.filter(is_active=False).update(status="paused")


class Migration(migrations.Migration):
    dependencies = [("earning", "0002_campaign_budget_buckets")]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="status",
            field=models.CharField(
                choices=[("active", "Active"), ("paused", "Paused"), ("ended", "Ended")],
                default="active",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="ended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="campaign",
            name="request_key",
            field=models.CharField(blank=True, max_length=80, null=True, unique=True),
        ),
        migrations.RunPython(status_from_is_active, migrations.RunPython.noop),
        migrations.RemoveField(model_name="campaign", name="is_active"),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["active", "paused", "ended"]),
                name="campaign_status_known",
            ),
        ),
    ]
