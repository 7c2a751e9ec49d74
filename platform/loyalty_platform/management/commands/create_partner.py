"""`loyalty create-partner`: onboard a partner with its schema and domain."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tenants.partners.errors import PartnerError
from tenants.partners.services import partner_onboard


class Command(BaseCommand):
    help = "Create a partner tenant (schema cloned from the template) and its domain."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="short name, e.g. fuelco; also the host prefix")
        parser.add_argument("name", help="display name, e.g. 'FuelCo Stations'")
        parser.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
        parser.add_argument("--domain", help="host name (default: SLUG.LOYALTY_BASE_DOMAIN)")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--contact-name", default="")
        parser.add_argument("--contact-email", default="")
        parser.add_argument("--activate", action="store_true", help="make it active at once")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            partner = partner_onboard(
                name=options["name"],
                slug=options["slug"],
                default_currency=options["currency"],
                domain=options["domain"],
                time_zone=options["time_zone"],
                contact_name=options["contact_name"],
                contact_email=options["contact_email"],
                activate=options["activate"],
            )
        except PartnerError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise CommandError(f"{exc.code}{field}: {exc.message}") from exc
        elapsed = (time.perf_counter() - started) * 1000
        domain = partner.get_primary_domain()
        self.stdout.write(
            self.style.SUCCESS(
                f"Partner {partner.slug} created: schema {partner.schema_name}, "
                f"host {domain.domain if domain else '-'}, status {partner.status} "
                f"({elapsed:.0f} ms)"
            )
        )
