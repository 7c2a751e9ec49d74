"""Three indexes fewer to write on every receipt, none of which a query needed:
a purchase's lines are found by ``line_number_once`` (purchase, line number), a
member's purchases by ``purchase_member`` (member, occurred_at), and the external
id keeps its unique index, now a named constraint, without the LIKE index
``unique=True`` added beside it. A five-line receipt wrote 23 entries in its
schema's indexes; it writes 16. Only indexes are dropped (and one renamed): the
foreign keys are not re-checked, which would block writes on a large table."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex

# What ``unique=True`` made in the initial migration, under Django's names.
UNIQUE, LIKE = "purchases_purchase_external_id_key", "purchases_purchase_external_id_a0f93a34_like"


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_changes_and_privacy_requests"),
        ("purchases", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="purchase",
                    name="external_id",
                    field=models.CharField(max_length=120),
                ),
                migrations.AddConstraint(
                    model_name="purchase",
                    constraint=models.UniqueConstraint(
                        fields=("external_id",), name="purchase_external_id_once"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{LIKE}"; ALTER TABLE purchases_purchase'
                    f' RENAME CONSTRAINT "{UNIQUE}" TO "purchase_external_id_once"',
                    reverse_sql=f"ALTER TABLE purchases_purchase RENAME CONSTRAINT"
                    f' "purchase_external_id_once" TO "{UNIQUE}"; CREATE INDEX IF NOT EXISTS'
                    f' "{LIKE}" ON purchases_purchase (external_id varchar_pattern_ops)',
                ),
            ],
        ),
        DropColumnIndex(
            model_name="purchase",
            name="member",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="members.member",
            ),
        ),
        DropColumnIndex(
            model_name="purchaseline",
            name="purchase",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lines",
                to="purchases.purchase",
            ),
        ),
    ]
