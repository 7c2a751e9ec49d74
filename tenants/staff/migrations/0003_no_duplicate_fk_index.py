"""Three foreign keys lose an index another one already gives them:
``staff_one_role_per_partner`` (user, partner) serves a user's memberships, and
the (partner, email) and (partner, email, at) indexes a partner's invitations and
failed log-ins, as well as the cascades a deletion of the user or the partner
makes. One index entry fewer per membership, invitation and failed log-in."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_partner_stripe_customer_id"),
        ("staff", "0002_loginattempt_partner_optional"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        DropColumnIndex(
            model_name="loginattempt",
            name="partner",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="partners.partner",
            ),
        ),
        DropColumnIndex(
            model_name="staffinvitation",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="staff_invitations",
                to="partners.partner",
            ),
        ),
        DropColumnIndex(
            model_name="staffmembership",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="staff_memberships",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
