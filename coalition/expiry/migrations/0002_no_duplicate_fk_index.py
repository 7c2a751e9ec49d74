"""An expiry reminder's member loses its own index: the unique
``one_reminder_per_day`` (member, expires on) leads with the member and serves
lookups by it alone, and the check a member's deletion makes, just as well. One
index entry fewer per reminder."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("expiry", "0001_initial"),
        ("members", "0007_member_changes_and_privacy_requests"),
    ]

    operations = [
        DropColumnIndex(
            model_name="expiryreminder",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
    ]
