"""The demo coalition: partners in several currencies with their stores.

Idempotent: running it again adds what is missing and changes nothing else.
Later capabilities (members, rules, rewards, settlement) extend it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import tenant_context

from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tenants.stores.models import Store
from tenants.stores.services import store_create


@dataclass(frozen=True)
class DemoPartner:
    slug: str
    name: str
    currency: str
    time_zone: str
    stores: tuple[tuple[str, str, str, str], ...]  # code, name, channel, city


DEMO_PARTNERS = (
    DemoPartner(
        "freshmart", "FreshMart Grocers", "EUR", "Europe/Madrid",
        (("MAD-01", "FreshMart Gran Via", "pos", "Madrid"),
         ("BCN-01", "FreshMart Eixample", "pos", "Barcelona"),
         ("WEB", "FreshMart online", "online", "")),
    ),
    DemoPartner(
        "skyway", "SkyWay Airlines", "GBP", "Europe/London",
        (("LHR", "SkyWay Heathrow desk", "pos", "London"),
         ("APP", "SkyWay app", "app", "")),
    ),
    DemoPartner(
        "fuelco", "FuelCo Stations", "USD", "America/New_York",
        (("NYC-7", "FuelCo 7th Avenue", "pos", "New York"),
         ("BOS-2", "FuelCo Boston South", "pos", "Boston")),
    ),
    DemoPartner(
        "beanthere", "Bean There Café", "EUR", "Europe/Lisbon",
        (("LIS-1", "Bean There Chiado", "pos", "Lisbon"),),
    ),
)  # fmt: skip


def seed_demo_coalition() -> list[Partner]:
    partners = []
    for demo in DEMO_PARTNERS:
        partner = Partner.objects.filter(slug=demo.slug).first()
        if partner is None:
            partner = partner_onboard(
                name=demo.name,
                slug=demo.slug,
                default_currency=demo.currency,
                time_zone=demo.time_zone,
                contact_email=f"loyalty@{demo.slug}.example",
                activate=True,
            )
        with tenant_context(partner):
            for code, name, channel, city in demo.stores:
                if not Store.objects.filter(code=code).exists():
                    store_create(
                        code=code, name=name, channel=channel, time_zone=demo.time_zone, city=city
                    )
        partners.append(partner)
    return partners
