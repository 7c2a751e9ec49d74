"""`loyalty seal-ledger`: append committed transactions to the hash chain now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from coalition.ledger import chain


class Command(BaseCommand):
    help = "Seal committed journal transactions into the hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Sealed {chain.seal_all()} transactions.")
