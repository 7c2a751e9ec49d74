"""`loyalty stripe-fake [--port 12111]`: run the local Stripe-compatible server."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from loyalty_platform.devtools.stripe_fake import FakeStripeServer


class Command(BaseCommand):
    help = "Serve a local Stripe-compatible API for development and tests."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=12111)

    def handle(self, *args: Any, **options: Any) -> None:
        server = FakeStripeServer(port=options["port"])
        self.stdout.write(
            f"Stripe fake on {server.base_url}: set STRIPE_API_BASE={server.base_url} "
            "and STRIPE_API_KEY=sk_test_anything"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.server_close()
