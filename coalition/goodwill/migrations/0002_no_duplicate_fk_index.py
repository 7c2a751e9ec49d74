"""A goodwill proposal's member loses its own index: ``goodwill_member``
(member, newest first) leads with the member and serves lookups by it alone, and
the check a member's deletion makes, just as well. One index entry fewer per
proposal."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("goodwill", "0001_initial"),
        ("members", "0007_member_changes_and_privacy_requests"),
    ]

    operations = [
        DropColumnIndex(
            model_name="goodwillproposal",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
    ]
