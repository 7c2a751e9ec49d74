"""A transfer's sender loses its own index: ``transfer_sender_year`` (sender,
kind, year) leads with the sender and serves lookups by it alone, and the check a
member's deletion makes, just as well. One index entry fewer per transfer."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_changes_and_privacy_requests"),
        ("transfers", "0002_household_invite_and_ending"),
    ]

    operations = [
        DropColumnIndex(
            model_name="transferrecord",
            name="from_member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
    ]
