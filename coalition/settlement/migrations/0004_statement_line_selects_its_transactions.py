"""Statement lines say what selects their journal transactions, so the audit trail
of a line tells apart the lines ``compute_statements`` splits out of one range
(burns and captured holds, returns of this period and of earlier ones).

Lines closed before this migration are filled from their kind and the words their
description was written with, which said the same thing."""

from django.db import migrations, models

FROM_KIND = {
    "issued": ("issuance", "earn"),
    "issued_reversal": ("issuance", "earn_reversal"),
    "redeemed": ("redemption", "burn"),
    "redeemed_reversal": ("redemption", "burn_reversal"),
    "breakage_share": ("", "expiry"),
}


def fill_selectors(apps, schema_editor):  # type: ignore[no-untyped-def]
    StatementLine = apps.get_model("settlement", "StatementLine")
    for kind, (account_kind, transaction_kind) in FROM_KIND.items():
        StatementLine.objects.filter(kind=kind).update(
            account_kind=account_kind, transaction_kind=transaction_kind
        )
    StatementLine.objects.filter(kind="redeemed", description__contains="captured holds").update(
        transaction_kind="capture"
    )
    StatementLine.objects.filter(
        kind__in=["issued_reversal", "redeemed_reversal"], description__contains="earlier periods"
    ).update(earlier_periods=True)


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0003_calendar_fees_payouts_charities"),
    ]

    operations = [
        migrations.AddField(
            model_name="statementline",
            name="account_kind",
            field=models.CharField(blank=True, max_length=12),
        ),
        migrations.AddField(
            model_name="statementline",
            name="earlier_periods",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="statementline",
            name="transaction_kind",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.RunPython(fill_selectors, migrations.RunPython.noop),
    ]
