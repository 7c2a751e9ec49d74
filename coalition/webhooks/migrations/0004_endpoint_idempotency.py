"""Endpoints record the idempotency key of their registration, so a retried
``createWebhookEndpoint`` answers the endpoint it registered. The new columns are
nullable or have a database default, so a web node still on the previous release
keeps inserting endpoints during a rolling deploy; the table is small (a few rows
per partner), so the unique constraint's index is built at once."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_partner_stripe_customer_id"),
        ("webhooks", "0003_delivery_due_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=120, null=True),
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="idempotency_scope",
            field=models.CharField(blank=True, max_length=80, null=True),
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="request_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="webhookendpoint",
            constraint=models.UniqueConstraint(
                fields=("idempotency_scope", "idempotency_key"), name="webhook_endpoint_idempotency"
            ),
        ),
    ]
