"""A donation's charity loses its own index: ``donation_charity`` (charity,
created at) leads with the charity and serves lookups by it alone, and the check a
charity's deletion makes, just as well. One index entry fewer per donation."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("charity", "0003_operator_request_key"),
    ]

    operations = [
        DropColumnIndex(
            model_name="donation",
            name="charity",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="donations",
                to="charity.charity",
            ),
        ),
    ]
