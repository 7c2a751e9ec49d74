"""A notification's and a notification preference's member lose their own
index: the unique ``one_notification_per_key`` (member, kind, key) and
``one_preference_per_kind`` (member, kind) lead with the member and serve lookups
by it alone, and the cascade of a member's deletion, just as well. One index entry
fewer per notification sent and per preference."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_changes_and_privacy_requests"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        DropColumnIndex(
            model_name="notification",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="members.member",
            ),
        ),
        DropColumnIndex(
            model_name="notificationpreference",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="members.member",
            ),
        ),
    ]
