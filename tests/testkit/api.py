"""Helpers for the GraphQL API tests (import as ``tests.testkit.api``).

Everything a test needs to talk to the API over HTTP the way a client would
(``gql``), the callers of the permission matrix (``Callers``), partner and
coalition set-ups built with services (``partner_world``, ``coalition_world``),
and a snapshot of everything a mutation could change (``books``), so a refused
call can be shown to have changed nothing.

Set-up goes through services; the behaviour under test goes through HTTP only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core import mail
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone

from coalition.adjustments.models import Adjustment
from coalition.charity.models import Donation
from coalition.charity.services import charity_create
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from coalition.member_auth.sign_in import member_sign_in_start
from coalition.members.models import Member
from coalition.members.services import member_enrol
from coalition.notifications.models import NotificationPreference
from coalition.settlement.models import SettlementPeriod, SettlementTerms, Statement
from coalition.transfers import services as transfers
from coalition.transfers.models import (
    Household,
    HouseholdInvite,
    HouseholdMembership,
    TransferCap,
    TransferRecord,
)
from coalition.webhooks.models import WebhookDelivery, WebhookEndpoint
from loyalty_graphql.auth import api_key_create, member_token_issue
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning import services as earning
from tenants.earning.models import (
    BehaviourAward,
    Campaign,
    EarnRule,
    Referral,
    RuleSetVersion,
)
from tenants.partners.models import Partner
from tenants.purchases import services as purchases
from tenants.purchases.models import Purchase, PurchaseReturn
from tenants.rewards import self_service
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPayment, PointsPaymentSettings, Reward, Voucher
from tenants.stores.models import Store
from tests.testkit import in_partner
from tests.testkit.settlement import close_now

HOST_A = "alpha.localhost"
HOST_B = "beta.localhost"
PUBLIC_HOST = "localhost"
PARTNER_SCOPES = ("read", "members", "earn", "redeem", "settlement", "configure", "adjust")
ERRORS = "errors { field code message }"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- HTTP -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One HTTP answer of the API."""

    status: int
    body: dict[str, Any]

    def payload(self, name: str) -> Any:
        """A mutation's payload (or a query's field), after checking the request
        itself went through: HTTP 200 and no GraphQL-level errors."""
        assert self.status == 200, self.body
        assert "errors" not in self.body, self.body
        return self.body["data"][name]

    def codes(self, name: str) -> list[str]:
        """The typed error codes of a mutation's payload."""
        return [error["code"] for error in self.payload(name)["errors"]]

    @property
    def graphql_codes(self) -> list[str]:
        """``extensions.code`` of the GraphQL-level errors (queries, validation)."""
        return [
            (error.get("extensions") or {}).get("code", "") for error in self.body.get("errors", [])
        ]

    @property
    def messages(self) -> list[str]:
        return [error["message"] for error in self.body.get("errors", [])]


def gql(
    host: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    *,
    authorization: str | None = None,
) -> Reply:
    """POST a GraphQL document to ``host``; ``token`` becomes a Bearer header,
    ``authorization`` is sent as it is."""
    headers: dict[str, Any] = {}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    response = Client(HTTP_HOST=host).post(
        "/graphql",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.content.decode(errors="replace")}
    return Reply(response.status_code, body)


def host_of(partner: Partner) -> str:
    domain = partner.domains.filter(is_primary=True).values_list("domain", flat=True).first()
    assert domain, f"{partner.slug} has no primary domain"
    return str(domain)


# --- callers ----------------------------------------------------------------------------


def partner_key(partner: Partner, scopes: Iterable[str] = PARTNER_SCOPES) -> str:
    _, token = api_key_create(name=unique("app"), scopes=list(scopes), partner=partner)
    return token


def operator_key() -> str:
    _, token = api_key_create(name=unique("operator"), scopes=["operator"], partner=None)
    return token


# The permission matrix: who calls.
OWN_KEY = "own key with the scope"
OTHER_PARTNER = "another partner's key"
MEMBER_TOKEN = "member token"
ANONYMOUS = "anonymous"
OWN_KEY_WITHOUT_SCOPE = "own key missing the scope"
OPERATOR = "operator key"
PARTNER_HOST_CALLERS = (OWN_KEY, OTHER_PARTNER, MEMBER_TOKEN, ANONYMOUS, OWN_KEY_WITHOUT_SCOPE,
                        OPERATOR)  # fmt: skip
PARTNER_KEY = "a partner's key"
COALITION_HOST_CALLERS = (MEMBER_TOKEN, OPERATOR, ANONYMOUS, PARTNER_KEY)


def caller_token(
    caller: str, *, own: Partner, other: Partner, scope: str | None, member: Member
) -> str | None:
    """The credential of ``caller``; the own key without the scope holds every
    other partner scope, so only the missing one can explain a refusal."""
    if caller == OWN_KEY:
        return partner_key(own)
    if caller in {OTHER_PARTNER, PARTNER_KEY}:
        return partner_key(other)
    if caller == MEMBER_TOKEN:
        return member_token_issue(member.pk)
    if caller == OPERATOR:
        return operator_key()
    if caller == OWN_KEY_WITHOUT_SCOPE:
        rest = [s for s in PARTNER_SCOPES if s != scope] if scope else ["read"]
        return partner_key(own, rest)
    assert caller == ANONYMOUS
    return None


# --- set-ups (services) -------------------------------------------------------------------


def enrol(prefix: str = "api") -> Member:
    return member_enrol(email=f"{unique(prefix)}@example.com")


def funded_member(partner: Partner, points: int, prefix: str = "funded") -> Member:
    member = enrol(prefix)
    if points:
        ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
    return member


def publish_rules(partner: Partner, rate: str = "1") -> None:
    """One point per major unit of the partner's currency, from now on."""
    now = timezone.now()
    with in_partner(partner):
        version = earning.ruleset_draft_create(description="api tests")
        earning.rule_add(
            version=version, kind="base_rate", params={"rates": {partner.default_currency: rate}}
        )
        earning.ruleset_publish(version=version, effective_from=now, now=now)
    use_public_schema()


def payment_settings(partner: Partner, value_per_point: str = "1", **extra: int) -> None:
    with in_partner(partner):
        PointsPaymentSettings.objects.all().delete()
        PointsPaymentSettings.objects.create(
            value_per_point=Decimal(value_per_point), currency=partner.default_currency, **extra
        )
    use_public_schema()


def reward(partner: Partner, points_price: int, **fields: Any) -> str:
    code = unique("reward")
    with in_partner(partner):
        rewards.reward_save(
            code=code, name=fields.pop("name", code), points_price=points_price, **fields
        )
    use_public_schema()
    return code


def catalogue_reward(slug: str = "alpha", points_price: int = 10, **fields: Any) -> dict[str, str]:
    """A reward of the partner ``slug`` in the coalition catalogue: the variables
    of ``redeemCatalogueReward``."""
    return {
        "partner": slug,
        "reward": reward(Partner.objects.get(slug=slug), points_price, **fields),
    }


def member_voucher(member: Member, slug: str = "alpha", points_price: int = 10) -> dict[str, str]:
    """The member redeems a new reward of ``slug`` from the catalogue: the variables
    of ``cancelMyVoucher`` for its voucher."""
    variables = catalogue_reward(slug, points_price)
    voucher = self_service.member_reward_redeem(
        member_id=member.pk, partner_slug=slug, reward_code=variables["reward"]
    )
    use_public_schema()
    return {"partner": slug, "code": voucher.code}


def receipt(
    member_number: str,
    currency: str,
    lines: Iterable[tuple[int, int]] = ((1, 2500),),
    external_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A receipt as the API takes it: lines are (quantity, unit price)."""
    pairs = list(lines)
    line_list = [
        {"sku": f"SKU{n}", "category": "general", "quantity": q, "unitPrice": p}
        for n, (q, p) in enumerate(pairs, start=1)
    ]
    return {
        "externalId": external_id or unique("T"),
        "memberNumber": member_number,
        "occurredAt": timezone.now().isoformat(),
        "currency": currency,
        "total": sum(q * p for q, p in pairs),
        "lines": line_list,
        **extra,
    }


def service_receipt(member: Member, currency: str, total: int = 5000) -> purchases.Receipt:
    return purchases.Receipt(
        external_id=unique("S"),
        member_id=member.pk,
        occurred_at=timezone.now(),
        currency=currency,
        lines=(purchases.ReceiptLine("SKU1", "general", 2, total // 2),),
        total=total // 2 * 2,
    )


@dataclass(frozen=True)
class PartnerWorld:
    """A partner ready for every partner-host operation: rules in force, a reward,
    points payments configured, and a member with points, a purchase, an unused
    voucher and an authorised points payment."""

    partner: Partner
    host: str
    member: Member
    reward_code: str
    voucher_code: str
    payment_id: int
    purchase_id: str


def partner_world(partner: Partner, *, points: int = 1000) -> PartnerWorld:
    publish_rules(partner)
    payment_settings(partner)
    code = reward(partner, 10, stock=50)
    member = funded_member(partner, points)
    with in_partner(partner):
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code=code)
        payment = rewards.points_payment_authorize(member_id=member.pk, amount=20)
        purchase = purchases.purchase_record(service_receipt(member, partner.default_currency))
    use_public_schema()
    return PartnerWorld(
        partner=partner,
        host=host_of(partner),
        member=member,
        reward_code=code,
        voucher_code=voucher.code,
        payment_id=payment.payment_id,
        purchase_id=purchase.external_id,
    )


NEUTRAL_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def cover_every_partner_with_terms() -> None:
    """Neutral settlement terms from 2000 for every partner without terms that
    old, so events other tests committed never stop a close (TermsMissing)."""
    covered = SettlementTerms.objects.filter(effective_from__lte=NEUTRAL_FROM).values("partner_id")
    SettlementTerms.objects.bulk_create(
        SettlementTerms(
            partner=partner,
            effective_from=NEUTRAL_FROM,
            currency=partner.default_currency,
            issuance_price=Decimal(1),
            reimbursement_rate=Decimal(1),
        )
        for partner in Partner.objects.exclude(pk__in=covered)
    )


def close_everything_before() -> SettlementPeriod:
    """Close the open period with whatever other tests left in it."""
    cover_every_partner_with_terms()
    return close_now()


def transaction_start() -> datetime:
    """The database's ``now()``: the instant this test's transaction started,
    which is what every ledger transaction posted in the test carries."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (value,) = cursor.fetchone()
    assert isinstance(value, datetime)
    return value


@dataclass(frozen=True)
class CoalitionWorld:
    """Members for the coalition host: ``member`` (1000 points, in ``friend``'s
    household) and ``friend`` (the household head); an active charity; no
    transfer caps; every partner covered by settlement terms."""

    member: Member
    friend: Member
    charity: str


def coalition_world(partner: Partner) -> CoalitionWorld:
    TransferCap.objects.all().delete()
    member = funded_member(partner, 1000, "coalition")
    friend = funded_member(partner, 0, "friend")
    household = transfers.household_create(head_member_id=friend.pk, name="Friends")
    transfers.household_join(household_id=household.pk, member_id=member.pk)
    charity = charity_create(slug=unique("charity"), name="Food bank")
    cover_every_partner_with_terms()
    return CoalitionWorld(member=member, friend=friend, charity=charity.slug)


def leave_household(member: Member) -> None:
    """The member leaves their household (if any), so that they may start or join one."""
    if HouseholdMembership.objects.filter(member=member).exists():
        transfers.household_leave(member_id=member.pk)


def head_own_household(member: Member) -> dict[str, Any]:
    """The member leaves their household and starts one of their own (no variables)."""
    leave_household(member)
    transfers.household_create(head_member_id=member.pk, name="Own")
    return {}


def invite_to_friends_household(world: CoalitionWorld) -> int:
    """The coalition world's member leaves the friend's household and is invited back:
    the invitation's id."""
    leave_household(world.member)
    return transfers.household_invite(
        member_id=world.friend.pk, email=world.member.email, invite_url="https://x/"
    ).pk


def member_sign_in_started(member: Member) -> dict[str, str]:
    """A sign-in started for ``member`` (as the portal starts one): its challenge
    and the code e-mailed (variables of ``COMPLETE_MEMBER_SIGN_IN``)."""
    with TestCase.captureOnCommitCallbacks(execute=True):  # the job e-mails the code
        challenge = member_sign_in_start(email=member.email, ip=None, link_url="https://x/?t=")
    found = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert found
    assert mail.outbox[-1].to == [member.email]
    return {"challenge": challenge, "code": found.group(1)}


# --- what a call could change ----------------------------------------------------------


def books(*partners: Partner) -> dict[str, Any]:
    """Everything the API's operations write, counted: a refused call must leave
    this exactly as it was."""
    state: dict[str, Any] = {
        "ledger transactions": Transaction.objects.count(),
        "adjustments": Adjustment.objects.count(),
        "members": Member.objects.count(),
        "transfers": TransferRecord.objects.count(),
        "donations": Donation.objects.count(),
        "household members": HouseholdMembership.objects.count(),
        "households": sorted(Household.objects.values_list("pk", "head_id")),
        "household invites": sorted(HouseholdInvite.objects.values_list("pk", "accepted_at")),
        "periods": sorted(SettlementPeriod.objects.values_list("number", "status")),
        "statements": sorted(
            Statement.objects.values_list("pk", "payment_status", "stripe_object_id")
        ),
        "webhook endpoints": sorted(WebhookEndpoint.objects.values_list("pk", "is_active")),
        "webhook deliveries": WebhookDelivery.objects.count(),
        "e-mail choices": sorted(
            NotificationPreference.objects.values_list("member_id", "kind", "enabled")
        ),
    }
    for partner in partners:
        with in_partner(partner):
            state[f"{partner.slug} purchases"] = Purchase.objects.count()
            state[f"{partner.slug} returns"] = PurchaseReturn.objects.count()
            state[f"{partner.slug} vouchers"] = sorted(
                Voucher.objects.values_list("code", "status")
            )
            state[f"{partner.slug} payments"] = sorted(
                PointsPayment.objects.values_list("pk", "status")
            )
            state[f"{partner.slug} stock"] = sorted(Reward.objects.values_list("code", "stock"))
            state[f"{partner.slug} behaviour awards"] = BehaviourAward.objects.count()
            state[f"{partner.slug} referrals"] = Referral.objects.count()
            state[f"{partner.slug} stores"] = sorted(
                Store.objects.values_list("code", "name", "channel", "time_zone", "city",
                                          "is_active")
            )  # fmt: skip
            state[f"{partner.slug} rule versions"] = sorted(
                RuleSetVersion.objects.values_list("number", "published_at", "effective_from")
            )
            state[f"{partner.slug} earn rules"] = sorted(
                EarnRule.objects.values_list("pk", "version_id", "params")
            )
            state[f"{partner.slug} point value"] = sorted(
                PointsPaymentSettings.objects.values_list("pk", "value_per_point")
            )
            state[f"{partner.slug} reward settings"] = sorted(
                Reward.objects.values_list("code", "name", "points_price", "per_member_limit",
                                           "valid_from", "valid_until", "channels", "category",
                                           "in_catalogue", "is_active")
            )  # fmt: skip
            state[f"{partner.slug} campaigns"] = sorted(
                Campaign.objects.values_list("pk", "name", "params", "status", "starts_at",
                                             "ends_at", "budget_points")
            )  # fmt: skip
    use_public_schema()
    return state


def last_transaction_id() -> int:
    return Transaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- documents ----------------------------------------------------------------------------

PAYMENT = "payment { paymentId points amount { amount currency } status balanceAfter }"
VOUCHER = "voucher { code reward points status expiresAt }"

MEMBER_QUERY = """query($lookup: MemberLookup!) { member(lookup: $lookup) {
  id memberNumber email status balance tier lots { edges { node { issuer points remaining } } }
  history(first: 10) { edges { node { kind points partner externalRef } } } } }"""
PREVIEW_QUERY = """query($receipt: ReceiptInput!) { purchasePreview(receipt: $receipt) {
  points rulePoints campaignPoints contributions { source kind points } } }"""
REWARDS_QUERY = "{ rewards { code name pointsPrice inStock } }"
VOUCHER_QUERY = "query($code: String!) { voucher(code: $code) { code reward points status } }"
STATEMENTS_QUERY = """query($last: Int) { statements(last: $last) { period paymentStatus
  net { amount currency } lines { kind points transactions amount { amount currency } } } }"""
LIVE_POSITION_QUERY = """{ livePosition { period net { amount currency }
  lines { kind points transactions amount { amount currency } } } }"""
# The public store locator's fields (readable without credentials) ...
PARTNER_QUERY = "{ partner { name slug timeZone } }"
# ... and every field, some of which need the partner's key.
PARTNER_FULL_QUERY = "{ partner { name slug status defaultCurrency timeZone } }"
STORES_QUERY = "{ stores { code name channel timeZone city isActive } }"

ENROL = f"""mutation($key: String!, $email: String!, $phone: String) {{
  enrolMember(idempotencyKey: $key, email: $email, phone: $phone) {{
    member {{ id memberNumber email balance }} {ERRORS} }} }}"""
RECORD_PURCHASE = f"""mutation($key: String!, $receipt: ReceiptInput!) {{
  recordPurchase(idempotencyKey: $key, receipt: $receipt) {{
    purchase {{ externalId points balanceAfter ruleVersion
                breakdown {{ points rulePoints campaignPoints }} }} {ERRORS} }} }}"""
RETURN_PURCHASE = f"""mutation($key: String!, $externalId: String!, $lines: [ReturnLineInput!]!) {{
  returnPurchase(idempotencyKey: $key, externalId: $externalId, lines: $lines) {{
    pointsReversed shortfall {ERRORS} }} }}"""
REDEEM_REWARD = f"""mutation($key: String!, $member: String!, $reward: String!, $channel: String) {{
  redeemReward(idempotencyKey: $key, memberNumber: $member, rewardCode: $reward,
               channel: $channel) {{ {VOUCHER} {ERRORS} }} }}"""
ADJUST_POINTS = f"""mutation($key: String!, $member: String!, $points: BigInt!, $reason: String!) {{
  adjustPoints(idempotencyKey: $key, memberNumber: $member, points: $points, reason: $reason) {{
    adjustment {{ memberNumber points reason balanceAfter transactionId capLeftToday }}
    {ERRORS} }} }}"""
CONSUME_VOUCHER = f"""mutation($key: String!, $code: String!) {{
  consumeVoucher(idempotencyKey: $key, code: $code) {{ {VOUCHER} {ERRORS} }} }}"""
AUTHORIZE_PAYMENT = f"""mutation($key: String!, $member: String!, $amount: BigInt!,
                         $reference: String) {{
  authorizePointsPayment(idempotencyKey: $key, memberNumber: $member, amount: $amount,
                         reference: $reference) {{ {PAYMENT} {ERRORS} }} }}"""
CAPTURE_PAYMENT = f"""mutation($key: String!, $payment: ID!, $amount: BigInt) {{
  capturePointsPayment(idempotencyKey: $key, paymentId: $payment, amount: $amount) {{
    {PAYMENT} {ERRORS} }} }}"""
VOID_PAYMENT = f"""mutation($key: String!, $payment: ID!) {{
  voidPointsPayment(idempotencyKey: $key, paymentId: $payment) {{ {PAYMENT} {ERRORS} }} }}"""
ISSUE_TOKEN = f"""mutation($key: String!, $member: String!) {{
  issueMemberToken(idempotencyKey: $key, memberNumber: $member) {{ token {ERRORS} }} }}"""

PARTNER_LIABILITY_QUERY = "{ liability { outstandingPoints value { amount currency } } }"
MEMBER_HISTORY_QUERY = """query($number: String!, $first: Int, $after: String,
    $kind: LedgerTransactionKind, $partner: String, $occurredAfter: DateTime,
    $occurredBefore: DateTime) {
  memberHistory: member(lookup: {memberNumber: $number}) {
    history(first: $first, after: $after, kind: $kind, partner: $partner,
            occurredAfter: $occurredAfter, occurredBefore: $occurredBefore) {
      edges { cursor node { transactionId kind points partner partnerSlug createdAt } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
MEMBER_LOTS_QUERY = """query($number: String!, $first: Int, $after: String) {
  memberLots: member(lookup: {memberNumber: $number}) {
    lots(first: $first, after: $after) {
      edges { cursor node { issuer earnedAt expiresAt points remaining } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
WEBHOOK_ENDPOINTS_QUERY = "{ webhookEndpoints { id url events active createdAt } }"
WEBHOOK_DELIVERIES_QUERY = """query($first: Int, $after: String) {
  webhookDeliveries(first: $first, after: $after) {
    edges { cursor node { id endpointId url event status attempts lastStatusCode lastError
                          nextAttemptAt createdAt deliveredAt payload } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
CREATE_WEBHOOK = f"""mutation($key: String!, $url: String!, $events: [WebhookEvent!]!) {{
  createWebhookEndpoint(idempotencyKey: $key, url: $url, events: $events) {{
    endpoint {{ id url events active createdAt }} signingSecret {ERRORS} }} }}"""
DISABLE_WEBHOOK = f"""mutation($key: String!, $id: ID!) {{
  disableWebhookEndpoint(idempotencyKey: $key, id: $id) {{
    endpoint {{ id url events active }} {ERRORS} }} }}"""
AWARD_BEHAVIOUR = f"""mutation($key: String!, $member: String!, $event: String!, $ref: String) {{
  awardBehaviour(idempotencyKey: $key, memberNumber: $member, event: $event, reference: $ref) {{
    points {ERRORS} }} }}"""
RECORD_REFERRAL = f"""mutation($key: String!, $referrer: String!, $referee: String!) {{
  recordReferral(idempotencyKey: $key, referrerNumber: $referrer, refereeNumber: $referee) {{
    accepted reason referrerPoints refereePoints {ERRORS} }} }}"""
CANCEL_VOUCHER = f"""mutation($key: String!, $code: String!) {{
  cancelVoucher(idempotencyKey: $key, code: $code) {{ {VOUCHER} {ERRORS} }} }}"""

PARTNERS_QUERY = "{ partners { slug name defaultCurrency status } }"
ME_QUERY = """{ me { memberNumber email balance lots { edges { node { issuer points } } }
  history(first: 5) { edges { node { kind points } } } } }"""
CATALOGUE_QUERY = """query($first: Int, $after: String, $partner: String, $search: String,
                          $maxPoints: BigInt, $category: String) {
  catalogue(first: $first, after: $after, partner: $partner, search: $search,
            maxPoints: $maxPoints, category: $category) {
    edges { cursor node { partner code name pointsPrice category } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
LIABILITY_QUERY = """{ liability { outstandingPoints expiredPoints redeemedPoints breakageRate
  lines { issuer outstandingPoints value { amount currency } } } }"""
PERIODS_QUERY = """query($last: Int) { periods(last: $last) { number status startWatermark
  endWatermark coalitionMargin { amount currency } } }"""
NETTING_QUERY = """query($period: Int!) { netting(period: $period) { period status
  obligations { debtor creditor points amount { amount currency } }
  transfers { payer payee amount { amount currency } } } }"""
TRANSFER_POINTS = f"""mutation($key: String!, $to: String!, $points: BigInt!) {{
  transferPoints(idempotencyKey: $key, toMemberNumber: $to, points: $points) {{
    balanceAfter {ERRORS} }} }}"""
POOL_TO_HOUSEHOLD = f"""mutation($key: String!, $points: BigInt!) {{
  poolToHousehold(idempotencyKey: $key, points: $points) {{ points {ERRORS} }} }}"""
HOUSEHOLD_FIELDS = """household { name isHead members { memberNumber email isHead isYou }
  pendingInvites { id email householdName expiresAt } }"""
TRANSFER_POINTS_BY_EMAIL = f"""mutation($key: String!, $to: String!, $points: BigInt!) {{
  transferPoints(idempotencyKey: $key, toEmail: $to, points: $points) {{
    balanceAfter {ERRORS} }} }}"""
CREATE_HOUSEHOLD = f"""mutation($key: String!, $name: String!) {{
  createHousehold(idempotencyKey: $key, name: $name) {{ {HOUSEHOLD_FIELDS} {ERRORS} }} }}"""
INVITE_TO_HOUSEHOLD = f"""mutation($key: String!, $email: String!) {{
  inviteToHousehold(idempotencyKey: $key, email: $email) {{
    invite {{ id email householdName expiresAt }} {ERRORS} }} }}"""
ACCEPT_HOUSEHOLD_INVITE = f"""mutation($key: String!, $invite: ID!) {{
  acceptHouseholdInvite(idempotencyKey: $key, invite: $invite) {{
    {HOUSEHOLD_FIELDS} {ERRORS} }} }}"""
LEAVE_HOUSEHOLD = f"""mutation($key: String!) {{
  leaveHousehold(idempotencyKey: $key) {{ left {ERRORS} }} }}"""
MY_HOUSEHOLD_ONLY_QUERY = """{ myHousehold { name isHead members { memberNumber } } }"""
MY_HOUSEHOLD_INVITES_QUERY = """{ myHouseholdInvites { id householdName } }"""
MY_TRANSFER_ALLOWANCE_QUERY = """query($household: Boolean) {
  myTransferAllowance(household: $household) { year cap used left } }"""
MY_HOUSEHOLD_QUERY = """{ myHousehold { name isHead members { memberNumber email isHead isYou }
  pendingInvites { id email } }
  myHouseholdInvites { id householdName email expiresAt }
  myTransferAllowance { year cap used left } }"""
DONATE_POINTS = f"""mutation($key: String!, $charity: String!, $points: BigInt!) {{
  donatePoints(idempotencyKey: $key, charity: $charity, points: $points) {{ points {ERRORS} }} }}"""
MEMBER_VOUCHER = "voucher { partner partnerName code reward rewardName points status expiresAt }"
REDEEM_CATALOGUE_REWARD = f"""mutation($key: String!, $partner: String!, $reward: String!) {{
  redeemCatalogueReward(idempotencyKey: $key, partner: $partner, rewardCode: $reward) {{
    {MEMBER_VOUCHER} {ERRORS} }} }}"""
START_MEMBER_SIGN_IN = f"""mutation($key: String!, $email: String!) {{
  startMemberSignIn(idempotencyKey: $key, email: $email) {{ challenge {ERRORS} }} }}"""
COMPLETE_MEMBER_SIGN_IN = f"""mutation($key: String!, $challenge: String!, $code: String!) {{
  completeMemberSignIn(idempotencyKey: $key, challenge: $challenge, code: $code) {{
    token {ERRORS} }} }}"""
MY_VOUCHERS_QUERY = """query($first: Int) {
  myVouchers(first: $first) { partner partnerName code reward rewardName points status
    expiresAt issuedAt consumedAt cancelledAt } }"""
CANCEL_MY_VOUCHER = f"""mutation($key: String!, $partner: String!, $code: String!) {{
  cancelMyVoucher(idempotencyKey: $key, partner: $partner, code: $code) {{
    {MEMBER_VOUCHER} {ERRORS} }} }}"""
MY_EMAIL_CHOICES_QUERY = "{ myEmailChoices { kind label enabled } }"
UPDATE_MY_EMAIL_CHOICES = f"""mutation($key: String!, $choices: [EmailChoiceInput!]!) {{
  updateMyEmailChoices(idempotencyKey: $key, choices: $choices) {{
    choices {{ kind label enabled }} changed {ERRORS} }} }}"""
ME_HISTORY_QUERY = """query($kind: LedgerTransactionKind, $partner: String, $first: Int) {
  meHistory: me {
    lots(first: $first) { edges { node { issuer remaining } } pageInfo { hasNextPage } }
    history(first: $first, kind: $kind, partner: $partner) {
      edges { node { kind points partner partnerSlug } } pageInfo { hasNextPage } } } }"""
CHARITY_STATEMENTS_QUERY = """query($charity: String, $last: Int) {
  charityStatements(charity: $charity, last: $last) { charity name active totalPoints
    ledgerBalance months { month donations points } } }"""
PAY_OUT_PERIOD = f"""mutation($key: String!, $number: Int!) {{
  payOutPeriod(idempotencyKey: $key, number: $number) {{
    paid payouts {{ statementId recipient recipientKind net {{ amount currency }} status
      stripeObjectId stripeErrorCode attempts retryAt error {{ field code message }} }}
    {ERRORS} }} }}"""
# Tests close when they need to: forced, with a reason, unless they say otherwise.
CLOSE_PERIOD = f"""mutation($key: String!, $force: Boolean = true,
                   $reason: String = "test: closed when the test needs it") {{
  closePeriod(idempotencyKey: $key, force: $force, reason: $reason) {{
    period {{ number status startWatermark endWatermark coalitionMargin {{ amount currency }}
      closedEarly closeReason }}
    {ERRORS} }} }}"""


def onboard(*, prefix: str, currency: str) -> Partner:
    """A new active partner with a unique slug (its own schema and host)."""
    from tenants.partners.services import partner_onboard

    partner = partner_onboard(
        name=f"{prefix.title()} {uuid.uuid4().hex[:6]}",
        slug=unique(prefix),
        default_currency=currency,
        activate=True,
    )
    use_public_schema()
    return partner


# --- the programme's configuration (scope "configure") ---------------------------------

STORE = "store { code name channel timeZone city isOpen }"
RULE_VERSION = "version { number description status effectiveFrom rules { id kind name params } }"
CREATE_STORE = f"""mutation($key: String!, $code: String!, $name: String!, $city: String) {{
  createStore(idempotencyKey: $key, code: $code, name: $name, city: $city) {{
    {STORE} {ERRORS} }} }}"""
UPDATE_STORE = f"""mutation($key: String!, $code: String!, $name: String, $timeZone: String) {{
  updateStore(idempotencyKey: $key, code: $code, name: $name, timeZone: $timeZone) {{
    {STORE} {ERRORS} }} }}"""
CLOSE_STORE = f"""mutation($key: String!, $code: String!) {{
  closeStore(idempotencyKey: $key, code: $code) {{ {STORE} {ERRORS} }} }}"""
REOPEN_STORE = f"""mutation($key: String!, $code: String!) {{
  reopenStore(idempotencyKey: $key, code: $code) {{ {STORE} {ERRORS} }} }}"""
CREATE_RULE_DRAFT = f"""mutation($key: String!, $description: String, $copyFrom: Int) {{
  createRuleDraft(idempotencyKey: $key, description: $description,
                  copyFromVersion: $copyFrom) {{ {RULE_VERSION} {ERRORS} }} }}"""
ADD_EARN_RULE = f"""mutation($key: String!, $version: Int!, $kind: String!, $params: JSONString!,
                    $name: String) {{
  addEarnRule(idempotencyKey: $key, version: $version, kind: $kind, params: $params,
              name: $name) {{ {RULE_VERSION} {ERRORS} }} }}"""
REMOVE_EARN_RULE = f"""mutation($key: String!, $version: Int!, $rule: ID!) {{
  removeEarnRule(idempotencyKey: $key, version: $version, ruleId: $rule) {{
    {RULE_VERSION} {ERRORS} }} }}"""
PUBLISH_RULE_VERSION = f"""mutation($key: String!, $version: Int!, $effectiveFrom: DateTime) {{
  publishRuleVersion(idempotencyKey: $key, version: $version, effectiveFrom: $effectiveFrom) {{
    {RULE_VERSION} {ERRORS} }} }}"""
SET_POINT_VALUE = f"""mutation($key: String!, $value: String!) {{
  setPointValue(idempotencyKey: $key, valuePerPoint: $value) {{
    pointValue {{ valuePerPoint currency }} {ERRORS} }} }}"""
REWARD_SETTINGS = """reward { code name description category pointsPrice stock perMemberLimit
  validFrom validUntil channels voucherValidityDays inCatalogue state }"""
CREATE_REWARD = f"""mutation($key: String!, $code: String!, $name: String!, $price: Int!,
    $stock: Int, $limit: Int, $validFrom: DateTime, $validUntil: DateTime, $channels: [String!],
    $category: String, $inCatalogue: Boolean) {{
  createReward(idempotencyKey: $key, code: $code, name: $name, pointsPrice: $price,
    stock: $stock, perMemberLimit: $limit, validFrom: $validFrom, validUntil: $validUntil,
    channels: $channels, category: $category, inCatalogue: $inCatalogue) {{
    {REWARD_SETTINGS} {ERRORS} }} }}"""
UPDATE_REWARD = f"""mutation($key: String!, $code: String!, $name: String, $price: Int,
    $stock: Int, $channels: [String!], $inCatalogue: Boolean) {{
  updateReward(idempotencyKey: $key, code: $code, name: $name, pointsPrice: $price,
    stock: $stock, channels: $channels, inCatalogue: $inCatalogue) {{
    {REWARD_SETTINGS} {ERRORS} }} }}"""
RETIRE_REWARD = f"""mutation($key: String!, $code: String!) {{
  retireReward(idempotencyKey: $key, code: $code) {{ {REWARD_SETTINGS} {ERRORS} }} }}"""
RESTORE_REWARD = f"""mutation($key: String!, $code: String!) {{
  restoreReward(idempotencyKey: $key, code: $code) {{ {REWARD_SETTINGS} {ERRORS} }} }}"""
CAMPAIGN = """id name kind params state startsAt endsAt tiers segments budgetPoints
  issuedPoints"""
CAMPAIGNS_QUERY = f"""query($state: String, $first: Int) {{
  campaigns(state: $state, first: $first) {{ {CAMPAIGN} }} }}"""
CREATE_CAMPAIGN = f"""mutation($key: String!, $name: String!, $kind: String!, $params: JSONString!,
    $startsAt: DateTime!, $endsAt: DateTime!, $tiers: [String!], $budget: BigInt) {{
  createCampaign(idempotencyKey: $key, name: $name, kind: $kind, params: $params,
    startsAt: $startsAt, endsAt: $endsAt, tiers: $tiers, budgetPoints: $budget) {{
    campaign {{ {CAMPAIGN} }} {ERRORS} }} }}"""
PAUSE_CAMPAIGN = f"""mutation($key: String!, $campaign: ID!) {{
  pauseCampaign(idempotencyKey: $key, campaign: $campaign) {{
    campaign {{ {CAMPAIGN} }} {ERRORS} }} }}"""
RESUME_CAMPAIGN = f"""mutation($key: String!, $campaign: ID!) {{
  resumeCampaign(idempotencyKey: $key, campaign: $campaign) {{
    campaign {{ {CAMPAIGN} }} {ERRORS} }} }}"""
END_CAMPAIGN = f"""mutation($key: String!, $campaign: ID!) {{
  endCampaign(idempotencyKey: $key, campaign: $campaign) {{
    campaign {{ {CAMPAIGN} }} {ERRORS} }} }}"""
RULE_VERSIONS_QUERY = """{ ruleVersions { number status effectiveFrom publishedAt
  rules { id kind name params } } }"""
RULE_VERSION_QUERY = """query($number: Int!) { ruleVersion(number: $number) {
  number status rules { kind params } } }"""


def store(partner: Partner, code: str | None = None) -> str:
    """A store of ``partner`` (by service); its code."""
    from tenants.stores.services import store_create

    code = code or unique("S")[:30]
    with in_partner(partner):
        store_create(code=code, name="API test shop")
    use_public_schema()
    return code


def rule_draft(partner: Partner) -> tuple[int, int]:
    """A draft with a base rate at ``partner``: (version number, rule id)."""
    with in_partner(partner):
        draft = earning.ruleset_draft_create(description="draft")
        rule = earning.rule_add(
            version=draft, kind="base_rate", params={"rates": {partner.default_currency: "2"}}
        )
    use_public_schema()
    return draft.number, rule.pk
