"""`loyalty create-api-key`: create a partner (or operator) API key; shown once."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from coalition.api_keys.errors import InvalidApiKeyName, InvalidScopes
from coalition.api_keys.models import PARTNER_SCOPES
from coalition.api_keys.services import api_key_create
from tenants.partners.models import Partner


class Command(BaseCommand):
    help = "Create an API key for a partner (--partner SLUG) or the operator (--operator)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--partner", help="partner slug")
        parser.add_argument("--operator", action="store_true")
        parser.add_argument(
            "--scopes", default=",".join(PARTNER_SCOPES),
            help=f"comma-separated: {', '.join(PARTNER_SCOPES)} (operator: operator)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        partner = None
        if options["partner"]:
            partner = Partner.objects.filter(slug=options["partner"]).first()
            if partner is None:
                raise CommandError(f"no partner {options['partner']!r}")
        elif not options["operator"]:
            raise CommandError("give --partner SLUG or --operator")
        scopes = ["operator"] if options["operator"] else options["scopes"].split(",")
        try:
            key, text = api_key_create(name=options["name"], scopes=scopes, partner=partner)
        except (InvalidScopes, InvalidApiKeyName) as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"API key {key.prefix} ({', '.join(key.scopes)}); shown once:")
        self.stdout.write(text or "")
