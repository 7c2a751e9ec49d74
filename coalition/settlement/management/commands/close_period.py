"""`loyalty close-period`: close the open settlement period now and print statements."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from coalition.settlement.errors import SettlementError
from coalition.settlement.periods import period_close


class Command(BaseCommand):
    help = "Close the open settlement period at the current ledger watermark."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = period_close()
        except SettlementError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"Period {period.number} closed at watermark {period.end_watermark} "
            f"(from {period.start_watermark})."
        )
        for statement in period.statements.select_related("partner").order_by("partner__name"):
            direction = "pays" if statement.net_amount > 0 else "receives"
            self.stdout.write(
                f"  {statement.partner.name:<28} {direction:>8} {abs(statement.net_amount):>12} "
                f"{statement.currency}  [{statement.payment_status}]"
            )
        for currency, margin in sorted(period.coalition_margin.items()):
            self.stdout.write(f"  coalition margin {margin} {currency}")
