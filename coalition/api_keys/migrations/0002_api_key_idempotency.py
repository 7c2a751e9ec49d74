"""A key's creation may carry an idempotency key (the console's form does), so a
double submit creates one key. Nullable columns and a database default: a node
still on the previous release keeps inserting keys during a rolling deploy."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("api_keys", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="idempotency_scope",
            field=models.CharField(blank=True, max_length=80, null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=120, null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="request_hash",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.UniqueConstraint(
                fields=("idempotency_scope", "idempotency_key"), name="api_key_idempotency"
            ),
        ),
    ]
