"""Three foreign keys lose an index a unique constraint already gives them:
``award_slot_once`` (member, event, period, sequence) serves a member's behaviour
awards, ``one_budget_bucket`` (campaign, bucket) a campaign's buckets, and
``segment_member_once`` (segment, member) a segment's members, as well as the
checks and cascades a deletion of the row they point to makes. One index entry
fewer per award, bucket and segment member written, in every partner's schema."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("earning", "0003_campaign_status"),
        ("members", "0007_member_changes_and_privacy_requests"),
    ]

    operations = [
        DropColumnIndex(
            model_name="behaviouraward",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
        DropColumnIndex(
            model_name="campaignbudgetbucket",
            name="campaign",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="earning.campaign",
            ),
        ),
        DropColumnIndex(
            model_name="segmentmember",
            name="segment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="earning.segment",
            ),
        ),
    ]
