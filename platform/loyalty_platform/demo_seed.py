"""The demo coalition: partners in several currencies with their stores, and
members who earned at one brand and spent at another.

Idempotent: running it again adds what is missing and changes nothing else.
Later capabilities (members, rules, rewards, settlement) extend it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import tenant_context

from coalition.ledger import services as ledger
from coalition.ledger.idempotency import IdempotencyKey
from coalition.members.services import member_enrol
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


DEMO_MEMBERS = (
    "ana.garcia@example.com",
    "ben.osei@example.com",
    "chloe.martin@example.com",
    "dev.patel@example.com",
    "eva.novak@example.com",
)

# (member index, partner slug, operation, points): earned at one brand, spent at another.
DEMO_ACTIVITY = (
    (0, "freshmart", "earn", 1200),
    (0, "fuelco", "earn", 300),
    (0, "skyway", "burn", 800),
    (1, "skyway", "earn", 5000),
    (1, "beanthere", "burn", 150),
    (2, "beanthere", "earn", 90),
    (2, "freshmart", "earn", 640),
    (3, "fuelco", "earn", 2200),
    (3, "freshmart", "burn", 1000),
    (4, "freshmart", "earn", 75),
)

SEED_SCOPE = "system:demo-seed"


def seed_demo_members(partners: dict[str, Partner]) -> None:
    """Members and their points, posted through the ledger with idempotency keys,
    so seeding twice posts nothing new."""
    members = [
        member_enrol(email=email, idempotency=IdempotencyKey(SEED_SCOPE, f"enrol:{email}"))
        for email in DEMO_MEMBERS
    ]
    for number, (member_index, slug, operation, points) in enumerate(DEMO_ACTIVITY):
        post = ledger.earn if operation == "earn" else ledger.burn
        post(
            member_id=members[member_index].pk,
            partner_id=partners[slug].pk,
            points=points,
            idempotency=IdempotencyKey(SEED_SCOPE, f"activity:{number}"),
            memo=f"demo {operation}",
        )


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
    seed_demo_members({partner.slug: partner for partner in partners})
    return partners
