"""An adjustment's partner loses its own index: ``adjustment_partner_day``
(partner, local day) leads with the partner and serves lookups by it alone, and
the check a partner's deletion makes, just as well. One index entry fewer per
adjustment."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("adjustments", "0001_initial"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        DropColumnIndex(
            model_name="adjustment",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
    ]
