"""A voucher's member loses its own index: ``voucher_member_reward`` (member,
reward) leads with the member and serves lookups by it alone, and the check a
member's deletion makes, just as well. One index entry fewer per voucher, in every
partner's schema."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_changes_and_privacy_requests"),
        ("rewards", "0004_reward_category_catalogue"),
    ]

    operations = [
        DropColumnIndex(
            model_name="voucher",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
    ]
