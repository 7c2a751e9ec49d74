"""`loyalty doctor`: check database, migrations, broker, Stripe and security settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from loyalty_platform import preflight


class Command(BaseCommand):
    help = "Check the configuration and print, per item, OK or what to fix."

    def handle(self, *args: Any, **options: Any) -> None:
        results = preflight.run_all()
        for result in results:
            # A failed check goes to stderr: it is the one line to act on.
            (self.stderr if result.failed else self.stdout).write(result.line())
        failed = [result for result in results if result.failed]
        if failed:
            self.stdout.write(f"{len(failed)} problem(s) found.")
            raise SystemExit(1)
        self.stdout.write("All checks passed.")
