"""`loyalty reconcile-stripe`: compare Stripe's transfers and invoices with statements."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from coalition.settlement.stripe.gateway import reconcile


class Command(BaseCommand):
    help = "Report differences between Stripe objects and settlement statements."

    def handle(self, *args: Any, **options: Any) -> None:
        differences = reconcile()
        for difference in differences:
            self.stderr.write(
                f"DIFF statement {difference.statement_id} {difference.stripe_object_id}: "
                f"{difference.problem}"
            )
        if differences:
            raise SystemExit(1)
        self.stdout.write("Stripe and statements agree.")
