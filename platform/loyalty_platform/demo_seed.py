"""The demo coalition: partners in several currencies with their stores, earn
rules, a campaign, tier levels, and members who earned at one brand and spent at
another.

Idempotent: running it again adds what is missing and changes nothing else.
Later capabilities (members, rules, rewards, settlement) extend it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.charity.models import Charity
from coalition.charity.services import charity_create, donation_make
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.operators.selectors import operator_role
from coalition.operators.services import operator_create
from coalition.settlement import services as settlement
from coalition.settlement.models import SettlementPeriod, SettlementTerms
from coalition.settlement.stripe import gateway
from coalition.tiers.models import TierLevel
from coalition.transfers import services as transfers
from coalition.transfers.models import Household, TransferCap
from loyalty_kernel.idempotency import IdempotencyKey
from tenants.earning import services as earning
from tenants.earning.models import BehaviourRule, RuleSetVersion
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard
from tenants.purchases.models import Purchase
from tenants.purchases.services import Receipt, ReceiptLine, purchase_record
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings, Reward
from tenants.staff.services import staff_member_create
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

# The day the demo coalition "launched": the launch rules are in force from then
# on, so receipts dated earlier than the day the demo was first run (the README's
# examples are dated in November 2026) still earn points.
DEMO_LAUNCH = datetime(2026, 1, 1, tzinfo=UTC)

# Each partner's launch rules (one published version) and campaigns.
DEMO_RULES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "freshmart": [
        ("base_rate", {"rates": {"EUR": "1"}}),
        ("category_multiplier", {"category": "fresh", "multiplier": "2"}),
        ("exclude_categories", {"categories": ["gift_cards", "tobacco"]}),
        ("daily_cap", {"points": 5000}),
    ],
    "skyway": [
        ("base_rate", {"rates": {"GBP": "5", "EUR": "4"}}),
        ("tier_multiplier", {"multipliers": {"gold": "1.5", "platinum": "2"}}),
        ("rounding", {"mode": "half_up"}),
    ],
    "fuelco": [
        ("base_rate", {"rates": {"USD": "2"}}),
        ("exclude_categories", {"categories": ["tobacco", "lottery"]}),
        ("minimum_spend", {"amounts": {"USD": 1000}}),
    ],
    "beanthere": [
        ("base_rate", {"rates": {"EUR": "10"}}),
        ("category_bonus", {"category": "coffee", "points_per_unit": 5}),
        ("include_tips", {}),
    ],
}

DEMO_TIERS = (("blue", "Blue", 0), ("silver", "Silver", 2000), ("gold", "Gold", 5000),
              ("platinum", "Platinum", 15000))  # fmt: skip

# (member index, partner, receipt lines as (sku, category, quantity, unit price)).
# Ana (member 1000000016 on a fresh demo, the README's member) earns enough at
# three brands to redeem and pay with points at FreshMart in the README's examples.
DEMO_PURCHASES = (
    (0, "freshmart", (("APPLES", "fresh", 6, 45), ("RICE", "pantry", 2, 189))),
    (0, "fuelco", (("UNLEADED", "fuel", 40, 159),)),
    (1, "skyway", (("LHR-JFK", "flights", 1, 64900),)),
    (2, "beanthere", (("FLATWHITE", "coffee", 2, 320), ("CROISSANT", "bakery", 1, 250))),
    (2, "freshmart", (("SALMON", "fresh", 2, 1299), ("GIFT25", "gift_cards", 1, 2500))),
    (3, "fuelco", (("DIESEL", "fuel", 60, 149), ("CIGS", "tobacco", 1, 900))),
    (4, "freshmart", (("MILK", "dairy", 3, 99),)),
    (0, "skyway", (("MAD-LHR", "flights", 1, 18900),)),  # appended: receipt ids stay stable
)

# (member index, partner slug, points): spent at another brand than they earned at.
DEMO_BURNS = ((0, "skyway", 50), (1, "beanthere", 1500), (3, "freshmart", 100))

SEED_SCOPE = "system:demo-seed"


def seed_demo_rules(partner: Partner) -> None:
    """Launch rules and a running campaign, once (a published version is final)."""
    if RuleSetVersion.objects.filter(published_at__isnull=False).exists():
        return
    now = timezone.now()
    version = earning.ruleset_draft_create(description="launch rules")
    for kind, params in DEMO_RULES[partner.slug]:
        earning.rule_add(version=version, kind=kind, params=params)
    # Published as of the launch day: the seed tells the story of a coalition that
    # has been running since then (a real publication cannot be backdated).
    earning.ruleset_publish(version=version, effective_from=DEMO_LAUNCH, now=DEMO_LAUNCH)
    if partner.slug == "freshmart":
        earning.campaign_create(
            name="Double points fortnight",
            kind="multiplier",
            params={"multiplier": "2"},
            starts_at=now,
            ends_at=now + timedelta(days=14),
            budget_points=100_000,
        )
        BehaviourRule.objects.get_or_create(
            event="referral", defaults={"points": 500, "referee_points": 250, "max_awards": 5}
        )


def seed_demo_members(partners: dict[str, Partner]) -> list[Any]:
    """Members, purchases and redemptions, all idempotent: seeding twice posts
    nothing new (enrolments and burns carry keys, receipts their external ids)."""
    for rank, (code, name, threshold) in enumerate(DEMO_TIERS):
        TierLevel.objects.get_or_create(
            code=code, defaults={"name": name, "rank": rank, "threshold_points": threshold}
        )
    members = [
        member_enrol(email=email, idempotency=IdempotencyKey(SEED_SCOPE, f"enrol:{email}"))
        for email in DEMO_MEMBERS
    ]
    for number, (member_index, slug, lines) in enumerate(DEMO_PURCHASES):
        partner = partners[slug]
        receipt_lines = tuple(ReceiptLine(*line) for line in lines)
        with tenant_context(partner):
            if Purchase.objects.filter(external_id=f"DEMO-{number:04d}").exists():
                continue
            purchase_record(
                Receipt(
                    external_id=f"DEMO-{number:04d}",
                    member_id=members[member_index].pk,
                    occurred_at=timezone.now(),
                    currency=partner.default_currency,
                    lines=receipt_lines,
                    total=sum(line.quantity * line.unit_price for line in receipt_lines),
                )
            )
    for number, (member_index, slug, points) in enumerate(DEMO_BURNS):
        ledger.burn(
            member_id=members[member_index].pk,
            partner_id=partners[slug].pk,
            points=points,
            idempotency=IdempotencyKey(SEED_SCOPE, f"burn:{number}"),
            memo="demo redemption",
        )
    return members


DEMO_REWARDS: dict[str, list[tuple[str, str, int, int | None]]] = {
    "freshmart": [("five-euros", "5 EUR off your shop", 500, None)],
    "skyway": [("lounge", "Lounge pass", 1500, 50)],
    "beanthere": [("coffee", "Any coffee", 300, 100)],
}


def seed_demo_redemption(partners: dict[str, Partner], members: list[Any]) -> None:
    """Rewards, pay-with-points settings, a voucher, a charity donation, a household."""
    for slug, rewards_list in DEMO_REWARDS.items():
        with tenant_context(partners[slug]):
            for code, name, price, stock in rewards_list:
                if not Reward.objects.filter(code=code).exists():
                    rewards.reward_save(code=code, name=name, points_price=price, stock=stock)
            if not PointsPaymentSettings.objects.exists():
                PointsPaymentSettings.objects.create(
                    value_per_point=Decimal(1), currency=partners[slug].default_currency
                )
    with tenant_context(partners["beanthere"]):
        rewards.reward_redeem(
            member_id=members[1].pk,
            reward_code="coffee",
            idempotency=IdempotencyKey(SEED_SCOPE, "voucher:0"),
        )
    if not Charity.objects.filter(slug="food-bank").exists():
        # paid 0.8 cent per point donated, like a redemption, at each settlement
        charity_create(
            slug="food-bank", name="City Food Bank", currency="EUR", point_value=Decimal("0.8")
        )
    donation_make(
        member_id=members[2].pk,
        charity_slug="food-bank",
        points=100,
        idempotency=IdempotencyKey(SEED_SCOPE, "donation:0"),
    )
    TransferCap.objects.get_or_create(
        kind="transfer", tier_code="", defaults={"yearly_points": 10_000}
    )
    TransferCap.objects.get_or_create(
        kind="household", tier_code="", defaults={"yearly_points": 50_000}
    )
    if not Household.objects.filter(head=members[3]).exists():
        household = transfers.household_create(head_member_id=members[3].pk, name="Patel household")
        transfers.household_join(household_id=household.pk, member_id=members[4].pk)


def seed_demo_settlement(partners: dict[str, Partner]) -> None:
    """Terms for every partner, then (once) a closed period paid against Stripe."""
    since = datetime(2020, 1, 1, tzinfo=UTC)
    for slug, partner in partners.items():
        if not SettlementTerms.objects.filter(partner=partner).exists():
            price, rate = DEMO_TERMS[slug]
            settlement.terms_set(
                partner=partner, effective_from=since, issuance_price=Decimal(price),
                reimbursement_rate=Decimal(rate), fee_percent=Decimal("2"),
                breakage_share_percent=Decimal("50"),
            )  # fmt: skip
    if SettlementPeriod.objects.filter(status="closed").exists():
        return
    if settings.STRIPE_API_KEY:
        for partner in partners.values():
            gateway.connect_onboarding_link(
                partner=partner,
                refresh_url="http://localhost:8000/",
                return_url="http://localhost:8000/",
            )
        for charity in Charity.objects.all():
            gateway.charity_connect_onboarding_link(
                charity=charity,
                refresh_url="http://localhost:8000/",
                return_url="http://localhost:8000/",
            )
    # Forced: the first period is not due yet, but the demo shows a closed one.
    settlement.period_close(force=True, reason="demo: a closed period to look at")


# Issuance price and reimbursement rate per point, in minor units of each currency.
DEMO_TERMS = {
    "freshmart": ("1.0", "0.8"),
    "skyway": ("0.9", "0.7"),
    "fuelco": ("1.1", "0.8"),
    "beanthere": ("1.0", "0.85"),
}


# Log-ins printed by `loyalty demo`: for a machine of one's own, never for a server
# reachable by others (the password is in this file).
DEMO_PASSWORD = "loyalty-demo"  # noqa: S105 (printed on purpose: a demo on localhost)
DEMO_STAFF_ROLES = ("owner", "manager", "cashier")
DEMO_OPERATOR = "operator@coalition.example"


@dataclass(frozen=True)
class DemoLogin:
    partner: str
    role: str
    email: str


def demo_staff_email(role: str, slug: str) -> str:
    return f"{role}@{slug}.example"


def seed_demo_staff(partners: list[Partner]) -> list[DemoLogin]:
    """An owner, a manager and a cashier per partner, signing in on its console."""
    logins = []
    for partner in partners:
        for role in DEMO_STAFF_ROLES:
            email = demo_staff_email(role, partner.slug)
            staff_member_create(
                partner_id=partner.pk, email=email, password=DEMO_PASSWORD, role=role
            )
            logins.append(DemoLogin(partner=partner.slug, role=role, email=email))
    return logins


def demo_member_logins(count: int = 3) -> list[tuple[str, str]]:
    """The first demo members' numbers and e-mail addresses, to try the API with."""
    members = Member.objects.filter(email__in=DEMO_MEMBERS[:count]).order_by("pk")
    return [(member.member_number, member.email) for member in members]


def seed_demo_operator() -> str:
    """The coalition operator's account: an operator admin of the operator console
    (``/operator/``, which has it set up two-step sign-in at the first log-in) and a
    superuser of the admin site for low-level data."""
    users = get_user_model()
    if not users.objects.filter(username=DEMO_OPERATOR).exists():
        users.objects.create_superuser(
            username=DEMO_OPERATOR, email=DEMO_OPERATOR, password=DEMO_PASSWORD
        )
    if operator_role(user=users.objects.get(username=DEMO_OPERATOR)) is None:
        operator_create(email=DEMO_OPERATOR, role="admin")
    return DEMO_OPERATOR


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
            seed_demo_rules(partner)
        partners.append(partner)
    by_slug = {partner.slug: partner for partner in partners}
    members = seed_demo_members(by_slug)
    seed_demo_redemption(by_slug, members)
    seed_demo_settlement(by_slug)
    seed_demo_staff(partners)
    seed_demo_operator()
    return partners
