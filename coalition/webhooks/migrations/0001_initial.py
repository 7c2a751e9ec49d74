"""The webhook models move here from the API package (``loyalty_graphql``).

State only: the tables ``loyalty_graphql_webhookendpoint`` and
``loyalty_graphql_webhookdelivery`` exist already (created by loyalty_graphql
0002, which runs first on a fresh database) and keep their names and data;
loyalty_graphql 0003 drops the models from that app's state.
"""

import django.core.serializers.json
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("loyalty_graphql", "0002_webhookendpoint_webhookdelivery"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("url", models.URLField(max_length=500)),
                        ("secret", models.CharField(max_length=80)),
                        ("events", models.JSONField(default=list)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "partner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="partners.partner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "loyalty_graphql_webhookendpoint",
                        "ordering": ["id"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("event_type", models.CharField(max_length=40)),
                        (
                            "payload",
                            models.JSONField(
                                encoder=django.core.serializers.json.DjangoJSONEncoder
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        (
                            "last_status_code",
                            models.PositiveSmallIntegerField(blank=True, null=True),
                        ),
                        ("last_error", models.TextField(blank=True)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "endpoint",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="webhooks.webhookendpoint",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "loyalty_graphql_webhookdelivery",
                        "ordering": ["-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
