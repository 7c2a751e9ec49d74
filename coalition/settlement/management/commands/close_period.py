"""`loyalty close-period [--force --reason TEXT]`: close the open settlement period,
print its statements, then pay them out and print each payout's result."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from coalition.settlement.errors import SettlementError
from coalition.settlement.models import SettlementPeriod
from coalition.settlement.periods import period_close
from coalition.settlement.reports import payout_report_lines, statement_report_lines


class Command(BaseCommand):
    help = (
        "Close the open settlement period at the current ledger watermark, print the "
        "statements, then pay them through Stripe (without a broker) and print the results."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="close the period before it is due (needs --reason)",
        )
        parser.add_argument("--reason", default="", help="why the period closes early (recorded)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Without a broker a job would run inside the close: pay here instead, once
        # the statements are printed, so a refused payout is reported, not raised.
        pay_here = bool(settings.STRIPE_API_KEY) and settings.CELERY_TASK_ALWAYS_EAGER
        try:
            period = period_close(
                force=options["force"], reason=options["reason"], enqueue_payouts=not pay_here
            )
        except SettlementError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self._print_statements(period)
        if not settings.STRIPE_API_KEY:
            self.stdout.write("Stripe is not configured (STRIPE_API_KEY): nothing was paid.")
            return
        if not pay_here:
            self.stdout.write(
                f"Payouts handed to the Celery workers; see them with "
                f"`loyalty pay-out {period.number}`, which also retries refused ones."
            )
            return
        from coalition.settlement.stripe.gateway import pay_out_period

        run = pay_out_period(period.pk)
        for line in payout_report_lines(run):
            self.stdout.write(line)
        if run.failed:
            raise CommandError(
                f"{len(run.failed)} payout(s) refused by Stripe; the period is closed. "
                f"Retry with `loyalty pay-out {period.number}` (a job also retries them)."
            )

    def _print_statements(self, period: SettlementPeriod) -> None:
        early = f", early: {period.close_reason}" if period.closed_early else ""
        self.stdout.write(
            f"Period {period.number} closed at watermark {period.end_watermark} "
            f"(from {period.start_watermark}{early})."
        )
        for line in statement_report_lines(period):
            self.stdout.write(line)
