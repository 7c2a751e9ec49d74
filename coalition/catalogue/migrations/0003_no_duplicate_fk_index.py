"""A catalogue entry's partner loses its own index: the unique
``catalogue_entry_once`` (partner, reward id) leads with the partner and serves
lookups by it alone, and the check a partner's deletion makes, just as well. One
index entry fewer per entry written."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0002_reward_category_catalogue"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        DropColumnIndex(
            model_name="catalogueentry",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
    ]
