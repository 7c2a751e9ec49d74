"""Every page of the merchant console, the member portal and the operator console,
opened in Chromium by someone allowed to see it, passes the accessibility check
(axe-core: no serious or critical violation) and asks nothing of a machine outside
this one.

The journeys check the pages along a person's way; this sweep makes sure that no
page is missed. ``test_the_sweep_knows_every_url`` reads the URL configuration and
fails for a URL that is neither opened here nor named below as one that only
answers a POST (a button's action, which shows no page of its own) or as one that
needs a step before it (the journey named next to it opens it)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Error as PlaywrightError

from coalition.adjustments.services import adjust_points
from coalition.api_keys.services import api_key_create
from coalition.charity.services import charity_create
from coalition.goodwill.services import goodwill_propose
from coalition.operators.services import operator_invite
from coalition.rules.models import CoalitionRules
from coalition.rules.selectors import default_rules
from coalition.rules.services import coalition_rules_set
from coalition.settlement.models import PayoutJob, PayoutJobKind, PayoutJobStatus
from coalition.tiers.models import TierLevel
from coalition.webhooks.services import webhook_endpoint_create
from loyalty_kernel.tenancy import use_public_schema
from loyalty_web.console import urls as console_urls
from loyalty_web.console.access import SESSION_PARTNER
from loyalty_web.operator import urls as operator_urls
from loyalty_web.portal import urls as portal_urls
from tenants.earning.services import campaign_create
from tenants.partners.models import Partner
from tenants.purchases import services as purchases
from tenants.purchases.models import Purchase
from tenants.staff import services as staff
from tests.testkit import host_client, in_partner
from tests.testkit.api import onboard, publish_rules, reward, rule_draft, store, unique
from tests.testkit.browser import BLOCKING_IMPACTS, PageSession, accessibility_violations
from tests.testkit.operator import operator, signed_in
from tests.testkit.portal import MEMBER, PUBLIC, ROUTES, portal_client, portal_world
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    cover_every_partner_with_terms,
    statement_of,
)
from tests.testkit.till import authorised_payment, member_with_points, set_point_value

PASSWORD = "correct horse battery 9"

# --- the merchant console ------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    """A partner with one of each thing a console URL names."""

    host: str
    store: str
    rule_number: int
    rule_id: int
    member: str
    purchase: int
    period: int
    line: int
    payment: int
    campaign: int
    reward: str
    api_key: int
    webhook: int
    invitation: str
    cashier: int
    reset_uid: str
    reset_token: str


# Pages a signed-in owner opens, by URL name.
CONSOLE_PAGES: dict[str, Callable[[Shop], str]] = {
    "dashboard": lambda s: "/",
    "two_factor": lambda s: "/account/two-step/",
    "staff": lambda s: "/staff/",
    "audit": lambda s: "/audit/",
    "stores": lambda s: "/stores/",
    "store_create": lambda s: "/stores/new/",
    "store_edit": lambda s: f"/stores/{s.store}/edit/",
    "store_close": lambda s: f"/stores/{s.store}/close/",
    "rules": lambda s: "/earn-rules/",
    "rule_compare": lambda s: "/earn-rules/compare/",
    "rule_version": lambda s: f"/earn-rules/{s.rule_number}/",
    "rule_preview": lambda s: f"/earn-rules/{s.rule_number}/preview/",
    "rule_add": lambda s: f"/earn-rules/{s.rule_number}/rules/new/?kind=base_rate",
    "rule_edit": lambda s: f"/earn-rules/{s.rule_number}/rules/{s.rule_id}/",
    "point_value": lambda s: "/point-value/",
    "integration": lambda s: "/integration/",
    "api_key_create": lambda s: "/integration/api-keys/new/",
    "api_key_created": lambda s: f"/integration/api-keys/{s.api_key}/created/",
    "webhook_create": lambda s: "/integration/webhooks/new/",
    "webhook_deliveries": lambda s: f"/integration/webhooks/{s.webhook}/",
    "webhook_created": lambda s: f"/integration/webhooks/{s.webhook}/created/",
    "members": lambda s: "/members/",
    "member": lambda s: f"/members/{s.member}/",
    "member_history": lambda s: f"/members/{s.member}/history/",
    "member_adjust": lambda s: f"/members/{s.member}/adjust/",
    "adjustments": lambda s: "/adjustments/",
    "purchase": lambda s: f"/members/{s.member}/purchases/{s.purchase}/",
    "settlement": lambda s: "/settlement/",
    "statement": lambda s: f"/settlement/periods/{s.period}/",
    "statement_line": lambda s: f"/settlement/periods/{s.period}/lines/{s.line}/",
    "till": lambda s: "/till/",
    "till_voucher": lambda s: "/till/voucher/",
    "till_payment": lambda s: "/till/payments/new/",
    "campaigns": lambda s: "/campaigns/",
    "campaign_create": lambda s: "/campaigns/new/",
    "rewards": lambda s: "/rewards/",
    "reward_create": lambda s: "/rewards/new/",
    "reward_edit": lambda s: f"/rewards/{s.reward}/edit/",
    "reward_retire": lambda s: f"/rewards/{s.reward}/retire/",
}
# Pages for somebody not signed in.
CONSOLE_PUBLIC_PAGES: dict[str, Callable[[Shop], str]] = {
    "login": lambda s: "/login/",
    "password_reset": lambda s: "/password-reset/",
    "password_reset_sent": lambda s: "/password-reset/sent/",
    "password_reset_confirm": lambda s: f"/password-reset/{s.reset_uid}/{s.reset_token}/",
    "password_reset_complete": lambda s: "/password-reset/complete/",
    "invitation": lambda s: f"/invitations/{s.invitation}/",
}
# URLs that are not pages to open, and why.
CONSOLE_NOT_OPENED = {
    "login_code": "asks for the code after a password: the two-step journey opens it",
    "logout": "POST only",
    "staff_role": "POST only",
    "staff_remove": "POST only",
    "invitation_revoke": "POST only",
    "store_reopen": "the check page of a closed store: store_close's twin",
    "rule_draft_create": "POST only",
    "rule_remove": "POST only",
    "api_key_revoke": "the revoke check page needs a live key: the integration journey opens it",
    "webhook_disable": "the disable check page: the integration journey opens it",
    "webhook_redeliver": "POST only",
    "till_capture": "the capture page of a payment: the till journey opens it",
    "till_void": "the void check page: the till journey opens it",
    "campaign_pause": "POST only",
    "campaign_resume": "POST only",
    "campaign_end": "the end check page: the campaigns journey opens it",
    "reward_restore": "the restore check page of a retired reward: reward_retire's twin",
}


def _purchase(partner: Partner, member_id: int) -> int:
    with in_partner(partner):
        receipt = purchases.Receipt(
            external_id=unique("R"),
            member_id=member_id,
            occurred_at=timezone.now(),
            currency=partner.default_currency,
            lines=(
                purchases.ReceiptLine("MILK", "general", 2, 150),
                purchases.ReceiptLine("BREAD", "general", 1, 250),
            ),
            total=550,
        )
        result = purchases.purchase_record(receipt)
        purchase = Purchase.objects.get(external_id=result.external_id).pk
    use_public_schema()
    return purchase


def _shop() -> tuple[Shop, Partner, Any]:
    """A partner with its stores, rules, members, a closed period and the rest; and
    its owner."""
    partner = onboard(prefix="sweep", currency="EUR")
    owner = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"owner-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="owner",
    ).user
    cashier = staff.staff_member_create(
        partner_id=partner.pk,
        email=f"cashier-{uuid4().hex[:8]}@example.com",
        password=PASSWORD,
        role="cashier",
    ).user
    _, invitation = staff.staff_invite(
        partner_id=partner.pk,
        email=f"new-{uuid4().hex[:8]}@example.com",
        role="manager",
        acting_user=owner,
    )
    publish_rules(partner)
    shop_code = store(partner)
    rule_number, rule_id = rule_draft(partner)
    member = member_with_points(partner, 500)
    purchase = _purchase(partner, member.pk)
    cover_every_partner_with_terms()
    period = close_now()
    line = statement_of(period, partner).lines.order_by("pk").first()
    if line is None:
        raise LookupError("the closed period has no statement line for the partner")
    set_point_value(partner)
    payment = authorised_payment(partner, member, 100)
    # one adjustment, so the adjustments list shows its table
    adjust_points(
        partner=partner, member=member, points=25, reason="parcel delivered late",
        actor=owner, idempotency=None,
    )  # fmt: skip
    with in_partner(partner):
        campaign = campaign_create(
            name="Weekend bonus",
            kind="bonus",
            params={"points": 10},
            starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(days=3),
            budget_points=10_000,
        )
    use_public_schema()
    key, _ = api_key_create(name="Till", scopes=["read", "earn"], partner=partner)
    webhook, _ = webhook_endpoint_create(
        partner=partner, url="http://127.0.0.1:9/hooks", events=["points_earned"]
    )
    shop = Shop(
        host=f"{partner.slug}.localhost",
        store=shop_code,
        rule_number=rule_number,
        rule_id=rule_id,
        member=member.member_number,
        purchase=purchase,
        period=period.number,
        line=line.pk,
        payment=payment.payment_id,
        campaign=campaign.pk,
        reward=reward(partner, 50),
        api_key=key.pk,
        webhook=webhook.pk,
        invitation=invitation,
        cashier=cashier.pk,
        reset_uid=urlsafe_base64_encode(force_bytes(owner.pk)),
        reset_token=default_token_generator.make_token(owner),
    )
    return shop, partner, owner


# --- the sweep -------------------------------------------------------------------------


def _session_cookie(client: Any, url: str) -> dict[str, str]:
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


@contextmanager
def _browser(chromium: Any, base_url: str, cookie: dict[str, str] | None) -> Iterator[Any]:
    from tests.testkit.browser import open_page

    pages = open_page(chromium, base_url)
    session = next(pages)
    if cookie is not None:
        session.page.context.add_cookies([cookie])
    try:
        yield session
    finally:
        pages.close()


def _sweep(session: PageSession, host: str, paths: dict[str, str]) -> list[str]:
    """Open each page; what is wrong with each, in words."""
    problems = []
    for name, path in paths.items():
        try:
            answer = session.page.goto(session.url(path, host=host))
        except PlaywrightError as error:  # an answer with no page (405 has no body)
            problems.append(f"{name} {path}: {error.message.splitlines()[0]}")
            session.page.goto("about:blank")
            continue
        session.page.wait_for_load_state("networkidle")
        landed = urlsplit(session.page.url).path
        if answer is None or answer.status != 200:
            problems.append(f"{name} {path}: HTTP {answer.status if answer else '?'} at {landed}")
            continue
        if landed != urlsplit(path).path and landed.rstrip("/").endswith(("/login", "/sign-in")):
            problems.append(f"{name} {path}: sent to sign in ({landed})")
            continue
        for violation in accessibility_violations(session.page):
            if violation.get("impact") in BLOCKING_IMPACTS:
                targets = [node["target"] for node in violation["nodes"]][:3]
                problems.append(
                    f"{name} {path}: {violation['id']} ({violation['impact']}): "
                    f"{violation['help']} at {targets}"
                )
    if session.outside_requests:
        problems.append(f"requests left the machine: {session.outside_requests}")
    return problems


def _names(urlpatterns: list[Any]) -> set[str]:
    return {p.name for p in urlpatterns if isinstance(p, URLPattern) and p.name}


def test_the_sweep_knows_every_url() -> None:
    console = set(CONSOLE_PAGES) | set(CONSOLE_PUBLIC_PAGES) | set(CONSOLE_NOT_OPENED)
    assert _names(console_urls.urlpatterns) - console == set(), (
        "a console URL the sweep does not know: add it to CONSOLE_PAGES (or say why not)"
    )
    assert console - _names(console_urls.urlpatterns) == set(), "the sweep names a gone URL"
    known = set(OPERATOR_PAGES) | set(OPERATOR_PUBLIC_PAGES) | set(OPERATOR_NOT_OPENED)
    assert _names(operator_urls.urlpatterns) - known == set(), (
        "an operator URL the sweep does not know: add it to OPERATOR_PAGES (or say why not)"
    )
    assert known - _names(operator_urls.urlpatterns) == set(), "the sweep names a gone URL"
    portal = set(PORTAL_PAGES) | set(PORTAL_NOT_OPENED)
    assert _names(portal_urls.urlpatterns) == portal, (
        "a portal URL the sweep does not know: give it a row in tests/testkit/portal.py ROUTES"
    )


@pytest.mark.slow
def test_every_console_page_passes_the_accessibility_check(
    chromium: Any, live_server_url: str, live_db: None
) -> None:
    # given a partner with one of each thing, and its owner signed in
    shop, partner, owner = _shop()
    client = host_client(shop.host)
    client.force_login(owner)
    session = client.session
    session[SESSION_PARTNER] = partner.pk
    session.save()
    problems = []

    # when every page is opened, signed in and not
    with _browser(chromium, live_server_url, None) as anonymous:
        public = {name: path(shop) for name, path in CONSOLE_PUBLIC_PAGES.items()}
        problems += _sweep(anonymous, shop.host, public)
    with _browser(chromium, live_server_url, None) as browser:
        cookie = _session_cookie(client, browser.url("/", host=shop.host))
        browser.page.context.add_cookies([cookie])
        pages = {name: path(shop) for name, path in CONSOLE_PAGES.items()}
        problems += _sweep(browser, shop.host, pages)

    # then none has a serious or critical accessibility fault
    assert problems == [], "\n".join(problems)


# --- the member portal -----------------------------------------------------------------

# Portal URLs from the permission matrix's ROUTES: those answering a GET are opened.
PORTAL_PAGES = {name for name, (_, methods, _) in ROUTES.items() if "get" in methods}
PORTAL_NOT_OPENED = {
    name: "POST only" for name, (_, methods, _) in ROUTES.items() if "get" not in methods
}
# Public pages that make sense only on their own (a visitor's), and the one that
# needs a step before it: the sign-in journey opens it.
PORTAL_VISITOR_PAGES = {name for name in PORTAL_PAGES if ROUTES[name][2] == PUBLIC}
PORTAL_STEP_BEFORE = {"sign_in_code": "after an e-mail address: the sign-in journey opens it"}


@contextmanager
def _no_capture(execute: bool = True) -> Iterator[None]:
    # committed data: on-commit callbacks (the privacy mails) run at once
    yield


@pytest.mark.slow
def test_every_portal_page_passes_the_accessibility_check(
    chromium: Any, live_server_url: str, live_db: None
) -> None:
    # given a member with a voucher, a household, live privacy links and points
    partner = onboard(prefix="sweep", currency="EUR")
    world = portal_world(partner, _no_capture)
    member = world["owner"]
    client = portal_client(member)
    host = settings.LOYALTY_BASE_DOMAIN
    problems = []

    # when a visitor opens the public pages and the member every member page
    visitor = {
        name: ROUTES[name][0].format(**world)
        for name in sorted(PORTAL_VISITOR_PAGES - set(PORTAL_STEP_BEFORE))
    }
    with _browser(chromium, live_server_url, None) as anonymous:
        problems += _sweep(anonymous, host, visitor)
    mine = {
        name: ROUTES[name][0].format(**world)
        for name in sorted(PORTAL_PAGES)
        if ROUTES[name][2] == MEMBER
    }
    with _browser(chromium, live_server_url, None) as browser:
        browser.page.context.add_cookies([_session_cookie(client, browser.url("/", host=host))])
        problems += _sweep(browser, host, mine)

    # then none has a serious or critical accessibility fault
    assert problems == [], "\n".join(problems)


# --- the operator console --------------------------------------------------------------


@dataclass(frozen=True)
class Coalition:
    """One of each thing an operator URL names."""

    partner: str
    colleague: int
    invitation: str
    member: str
    period: int  # a closed period, with
    statement: int  # a statement of it, and
    payout_run: int  # a payout run of it
    level: str
    charity: str


# Pages an operator admin opens, by URL name.
OPERATOR_PAGES: dict[str, Callable[[Coalition], str]] = {
    "home": lambda c: "/operator/",
    "two_factor": lambda c: "/operator/account/two-step/",
    "partners": lambda c: "/operator/partners/",
    "onboard": lambda c: "/operator/onboard/",
    "partner": lambda c: f"/operator/partners/{c.partner}/",
    "onboard_terms": lambda c: f"/operator/partners/{c.partner}/setup-terms/",
    "onboard_owner": lambda c: f"/operator/partners/{c.partner}/owner/",
    "onboard_payouts": lambda c: f"/operator/partners/{c.partner}/payouts/",
    "partner_status": lambda c: f"/operator/partners/{c.partner}/status/suspended/",
    "partner_terms": lambda c: f"/operator/partners/{c.partner}/terms/",
    "partner_terms_new": lambda c: f"/operator/partners/{c.partner}/terms/new/",
    "audit": lambda c: "/operator/audit/",
    "staff": lambda c: "/operator/staff/",
    "staff_remove": lambda c: f"/operator/staff/{c.colleague}/remove/",
    "members": lambda c: "/operator/members/",
    "member": lambda c: f"/operator/members/{c.member}/",
    "member_history": lambda c: f"/operator/members/{c.member}/history/",
    "member_status": lambda c: f"/operator/members/{c.member}/status/blocked/",
    "member_erase": lambda c: f"/operator/members/{c.member}/erase/",
    "goodwill_propose": lambda c: f"/operator/members/{c.member}/goodwill/",
    "goodwill": lambda c: "/operator/members/goodwill/",
    "settlement": lambda c: "/operator/settlement/",
    "settlement_close": lambda c: "/operator/settlement/close/",
    "settlement_period": lambda c: f"/operator/settlement/periods/{c.period}/",
    "settlement_statement": lambda c: (
        f"/operator/settlement/periods/{c.period}/statements/{c.statement}/"
    ),
    "payouts": lambda c: "/operator/settlement/payouts/",
    "payout_retry": lambda c: f"/operator/settlement/payouts/{c.statement}/retry/",
    "period_payout": lambda c: f"/operator/settlement/payouts/periods/{c.period}/",
    "payout_job": lambda c: f"/operator/settlement/payouts/runs/{c.payout_run}/",
    "reconciliation": lambda c: "/operator/settlement/reconciliation/",
    "charity_payouts": lambda c: "/operator/settlement/charities/",
    "programme": lambda c: "/operator/programme/",
    "programme_tiers": lambda c: "/operator/programme/tiers/",
    "programme_tier_add": lambda c: "/operator/programme/tiers/add/",
    "programme_tier_policy": lambda c: "/operator/programme/tiers/policy/",
    "programme_tier": lambda c: f"/operator/programme/tiers/{c.level}/",
    "programme_expiry": lambda c: "/operator/programme/expiry/",
    "programme_transfer_caps": lambda c: "/operator/programme/transfer-caps/",
    "programme_rules": lambda c: "/operator/programme/rules/",
    "programme_charities": lambda c: "/operator/programme/charities/",
    "programme_charity_add": lambda c: "/operator/programme/charities/add/",
    "programme_charity": lambda c: f"/operator/programme/charities/{c.charity}/",
    "reports": lambda c: "/operator/reports/",
    "report_breakage": lambda c: "/operator/reports/breakage/",
    "report_flows": lambda c: "/operator/reports/issued-redeemed/",
}
# Pages for somebody not signed in.
OPERATOR_PUBLIC_PAGES: dict[str, Callable[[Coalition], str]] = {
    "login": lambda c: "/operator/login/",
    "invitation": lambda c: f"/operator/invitation/{c.invitation}/",
}
OPERATOR_NOT_OPENED = {
    "login_code": "asks for the code after a password: the sign-in journey opens it",
    "logout": "POST only",
    "staff_role": "POST only",
    "partner_terms_confirm": "POST only (the preview, a POST answer, is in the terms journey)",
    "staff_invitation_withdraw": "POST only",
    "programme_charity_active": "POST only",
    "goodwill_decide": "POST only (its buttons are on the goodwill queue, swept with one waiting)",
}


def _coalition() -> tuple[Coalition, Any]:
    admin = operator("admin")
    colleague = operator("support")
    _, token = operator_invite(
        email=f"invited-{uuid4().hex[:8]}@example.com",
        role="finance",
        request_key=uuid4().hex,
        acting_user=admin,
    )
    if token is None:
        raise LookupError("a new invitation gives its token")
    partner = onboard(prefix="sweep", currency="EUR")
    member = member_with_points(partner, 120)
    # a goodwill proposal by the colleague waits: the queue shows its approve and reject
    goodwill_propose(
        member_id=member.pk, points=5_000, reason="sweep", acting_user=colleague,
        request_key=uuid4().hex,
    )  # fmt: skip
    period = close_everything_before()  # the member's points: a statement of the partner
    statement = statement_of(period, partner)
    run = PayoutJob.objects.create(
        kind=PayoutJobKind.PERIOD, period=period, status=PayoutJobStatus.DONE, total=1, done=1,
        paid=1, idempotency_scope="sweep", idempotency_key=uuid4().hex, request_hash="-",
    )  # fmt: skip
    # committed: a level of the sweep's own, at a rank of its own, removed at the end
    level = TierLevel.objects.create(
        code=f"sweep-{uuid4().hex[:8]}",
        name="Sweep level",
        rank=random.randint(1_000_000, 2_000_000_000),
        threshold_points=10**11,
    )
    charity = charity_create(slug=f"sweep-{uuid4().hex[:8]}", name="Sweep charity")
    # committed too, with the defaults' values (so no other test sees other rules), and
    # removed at the end: the rules page shows a change in its history table
    defaults = default_rules()
    coalition_rules_set(
        adjustment_daily_cap=defaults.adjustment_daily_cap,
        goodwill_approval_threshold=defaults.goodwill_approval_threshold,
        reason="sweep",
        actor=admin,
    )
    return (
        Coalition(
            partner=partner.slug,
            colleague=colleague.pk,
            invitation=token,
            member=member.member_number,
            period=period.number,
            statement=statement.pk,
            payout_run=run.pk,
            level=level.code,
            charity=charity.slug,
        ),
        admin,
    )


@pytest.mark.slow
def test_every_operator_page_passes_the_accessibility_check(
    chromium: Any, live_server_url: str, live_db: None
) -> None:
    # given a partner, a colleague, an invitation waiting, and an admin signed in
    coalition, admin = _coalition()
    client = signed_in(admin)
    host = settings.LOYALTY_BASE_DOMAIN
    problems = []

    # when every page is opened, signed in and not
    with _browser(chromium, live_server_url, None) as anonymous:
        public = {name: path(coalition) for name, path in OPERATOR_PUBLIC_PAGES.items()}
        problems += _sweep(anonymous, host, public)
    try:
        with _browser(chromium, live_server_url, None) as browser:
            browser.page.context.add_cookies([_session_cookie(client, browser.url("/", host=host))])
            pages = {name: path(coalition) for name, path in OPERATOR_PAGES.items()}
            problems += _sweep(browser, host, pages)
    finally:
        TierLevel.objects.filter(code=coalition.level).delete()
        CoalitionRules.objects.all().delete()

    # then none has a serious or critical accessibility fault
    assert problems == [], "\n".join(problems)
