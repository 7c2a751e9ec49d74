"""`loyalty verify-ledger`: prove the ledger intact, or name the first broken link."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from coalition.ledger import chain
from coalition.ledger.verification import verify


class Command(BaseCommand):
    help = "Recompute balances, lots and the hash chain; exit 1 naming what is broken."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--seal-first", action="store_true", help="seal pending transactions before checking"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seal_first"]:
            chain.seal_all()
        report = verify()
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Ledger intact: {report.transactions} transactions, {report.sealed} sealed."
                )
            )
            return
        for problem in report.problems:
            self.stderr.write(f"BROKEN  {problem}")
        if report.first_broken_transaction is not None:
            self.stderr.write(f"First broken transaction: {report.first_broken_transaction}")
        raise SystemExit(1)
