"""`loyalty create-webhook`: register a partner app's webhook endpoint."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from coalition.webhooks.models import WEBHOOK_EVENTS
from coalition.webhooks.services import InvalidWebhookEndpoint, webhook_endpoint_create
from tenants.partners.models import Partner


class Command(BaseCommand):
    help = "Register a webhook endpoint for a partner; prints its signing secret once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--partner", required=True, help="partner slug")
        parser.add_argument(
            "--events", default=",".join(WEBHOOK_EVENTS),
            help=f"comma-separated, some of: {', '.join(WEBHOOK_EVENTS)}",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        partner = Partner.objects.filter(slug=options["partner"]).first()
        if partner is None:
            raise CommandError(f"no partner {options['partner']!r}")
        events = [event.strip() for event in options["events"].split(",") if event.strip()]
        try:
            endpoint, secret = webhook_endpoint_create(
                partner=partner, url=options["url"], events=events
            )
        except InvalidWebhookEndpoint as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"Endpoint {endpoint.pk} for {partner.slug}: {', '.join(events)}")
        self.stdout.write(f"Signing secret (shown once): {secret}")
