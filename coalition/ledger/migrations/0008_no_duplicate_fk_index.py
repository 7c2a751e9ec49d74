"""An account snapshot's account loses its own index: the unique
``one_snapshot_per_watermark`` (account, watermark) leads with the account and
serves lookups by it alone, and the check an account's deletion makes, just as
well. One index entry fewer per snapshot."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_goodwill"),
    ]

    operations = [
        DropColumnIndex(
            model_name="accountsnapshot",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="snapshots",
                to="ledger.account",
            ),
        ),
    ]
