"""`loyalty pay-out PERIOD`: pay a closed period's unpaid statements through Stripe
(again: refused payouts are retried) and print each payout's result."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from coalition.settlement.errors import StripeNotConfigured
from coalition.settlement.models import PeriodStatus, SettlementPeriod
from coalition.settlement.reports import payout_report_lines
from coalition.settlement.stripe.gateway import pay_out_period


class Command(BaseCommand):
    help = "Pay (or retry paying) a closed period's statements through Stripe."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("period", type=int, help="the closed period's number")

    def handle(self, *args: Any, **options: Any) -> None:
        number = options["period"]
        period = SettlementPeriod.objects.filter(number=number, status=PeriodStatus.CLOSED).first()
        if period is None:
            raise CommandError(f"no closed period {number}")
        try:
            run = pay_out_period(period.pk)
        except StripeNotConfigured as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        for line in payout_report_lines(run):
            self.stdout.write(line)
        if run.failed:
            raise CommandError(
                f"{len(run.failed)} payout(s) refused by Stripe; retry with "
                f"`loyalty pay-out {number}` (a job also retries them)."
            )
