"""Two foreign keys lose an index another one already gives them:
``member_enrolled_by_at`` (enrolling partner, enrolled at) serves lookups by the
enrolling partner alone, and ``member_change_recent`` (member, newest first) a
member's changes, as well as the checks a deletion of the row they point to makes.
One index entry fewer per enrolment and per recorded change."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_changes_and_privacy_requests"),
        ("partners", "0002_partner_stripe_customer_id"),
    ]

    operations = [
        DropColumnIndex(
            model_name="member",
            name="enrolled_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
        DropColumnIndex(
            model_name="memberchange",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="changes",
                to="members.member",
            ),
        ),
    ]
