"""The API key model moves here from the API package (``loyalty_graphql``).

State only: the table ``loyalty_graphql_apikey`` exists already (created by
loyalty_graphql 0001, which runs first on a fresh database) and keeps its name and
its rows; loyalty_graphql 0005 drops the model from that app's state.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("loyalty_graphql", "0001_initial"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
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
                        ("name", models.CharField(max_length=120)),
                        ("prefix", models.CharField(max_length=16, unique=True)),
                        ("key_hash", models.CharField(max_length=64)),
                        ("scopes", models.JSONField(default=list)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "partner",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="partners.partner",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "loyalty_graphql_apikey",
                        "ordering": ["-created_at"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
