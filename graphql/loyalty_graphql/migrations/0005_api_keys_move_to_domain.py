"""The API key model moved to the ``api_keys`` domain app (coalition.api_keys), so
the console's pages and the API share its services without the web layer
importing the API package.

State only: the table stays, owned now by that app's state (api_keys 0001).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty_graphql", "0004_storedanswer"),
        ("api_keys", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiKey")],
            database_operations=[],
        ),
    ]
