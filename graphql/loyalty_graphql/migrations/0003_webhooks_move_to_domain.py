"""The webhook models moved to the ``webhooks`` domain app (coalition.webhooks).

State only: their tables stay, owned now by that app's state (webhooks 0001).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty_graphql", "0002_webhookendpoint_webhookdelivery"),
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="WebhookDelivery"),
                migrations.DeleteModel(name="WebhookEndpoint"),
            ],
            database_operations=[],
        ),
    ]
