"""Three foreign keys lose an index a unique constraint already gives them:
``terms_once_per_instant`` (partner, effective from) serves a partner's terms,
``fixed_fee_once_a_month`` (partner, month) its fixed fees, and ``statement_once``
(period, partner) with ``charity_statement_once`` (period, charity) a period's
statements, as well as the checks a deletion of the row they point to makes. One
index entry fewer per terms, fixed fee and statement written."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty_kernel.migration_operations import DropColumnIndex


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_partner_stripe_customer_id"),
        ("settlement", "0006_finance_rollups"),
    ]

    operations = [
        DropColumnIndex(
            model_name="fixedfeecharge",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
        DropColumnIndex(
            model_name="settlementterms",
            name="partner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partners.partner",
            ),
        ),
        DropColumnIndex(
            model_name="statement",
            name="period",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="statements",
                to="settlement.settlementperiod",
            ),
        ),
    ]
