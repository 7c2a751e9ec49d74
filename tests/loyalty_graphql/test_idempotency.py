"""Idempotency over HTTP, for every mutation of both schemas.

The matrix is generated from the schemas: each mutation field of the partner
and the coalition schema is a case, and a mutation without a row in ``CASES``
fails, so a new mutation cannot ship without proving that:

- the same key and input answer the original answer again, whole payload
  compared, even after a later operation changed what it showed (points spent,
  the voucher used, the payment captured, the endpoint disabled, the next period
  closed), and the replay changes nothing;
- the same key with other input (or, for a mutation without input, for another
  mutation) answers IDEMPOTENCY_KEY_REUSED and changes nothing.

Keys belong to their caller, so two partners (or two members) using "k1" never
collide; and twins racing with one key act once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_erase
from coalition.notifications.services import notification_preference_set
from coalition.transfers import services as transfers
from coalition.webhooks import services as webhooks
from coalition.webhooks.models import WebhookEndpoint
from loyalty_graphql.auth import api_key_create, member_token_issue
from loyalty_graphql.models import StoredAnswer
from loyalty_graphql.schema import coalition_schema, partner_schema
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning import services as earning
from tenants.earning.models import BehaviourAward, BehaviourRule, RuleSetVersion
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase
from tenants.rewards import services as rewards
from tenants.stores import services as store_services
from tenants.stores.models import Store
from tests.testkit import api as s
from tests.testkit import in_partner
from tests.testkit.concurrency import run_threads, unique_member
from tests.testkit.settlement import close_now, running_stripe_fake

Variables = dict[str, Any]


@dataclass
class World:
    """Everything a case needs: the partner world (alpha), the coalition world,
    and the callers' credentials."""

    partner: s.PartnerWorld
    coalition: s.CoalitionWorld
    partner_key: str
    member_token: str
    operator_key: str
    extra: dict[str, Any] = field(default_factory=dict)


def _world(partner: Partner) -> World:
    partner_world = s.partner_world(partner)
    coalition_world = s.coalition_world(partner)
    return World(
        partner=partner_world,
        coalition=coalition_world,
        partner_key=s.partner_key(partner),
        member_token=member_token_issue(coalition_world.member.pk),
        operator_key=s.operator_key(),
    )


def _earn(world: World, _answer: Any) -> None:
    """The default later operation: both worlds' members earn, which changes every
    balance an answer showed."""
    for member in (world.partner.member, world.coalition.member):
        ledger.earn(member_id=member.pk, partner_id=world.partner.partner.pk, points=7)


@dataclass(frozen=True)
class Case:
    document: str
    caller: str  # "partner", "member", "operator" or "anonymous"
    first: Callable[[World], Variables]
    other: Callable[[World], Variables]
    # After the first answer, change what it showed; gets the first payload.
    later: Callable[[World, Any], None] = _earn
    # Another mutation the same key is refused for (a mutation without input).
    other_mutation: tuple[str, str] | None = None
    prepare: Callable[[World], None] | None = None
    stripe: bool = False


# --- set-ups and later operations -------------------------------------------------------


def _sign_in_started(world: World) -> None:
    world.extra["sign_in"] = s.member_sign_in_started(world.coalition.member)


def _another_code(started: dict[str, str]) -> str:
    return f"{(int(started['code']) + 1) % 1_000_000:06d}"


def _member_leaves(world: World) -> None:
    s.leave_household(world.coalition.member)


def _member_heads_a_household(world: World) -> None:
    s.leave_household(world.coalition.member)
    transfers.household_create(head_member_id=world.coalition.member.pk, name="Ours")


def _two_invitations(world: World) -> None:
    first = s.invite_to_friends_household(world.coalition)
    second = transfers.household_invite(
        member_id=world.coalition.friend.pk, email=world.coalition.member.email, invite_url="x"
    )
    world.extra["invites"] = [str(first), str(second.pk)]


def _rules(world: World) -> None:
    with in_partner(world.partner.partner):
        BehaviourRule.objects.create(event="review", points=25, max_awards=5, period="lifetime")
        BehaviourRule.objects.create(event="referral", points=100, referee_points=50, max_awards=5)
    use_public_schema()
    world.extra["referees"] = [s.enrol("referee").member_number for _ in range(2)]


def _second_voucher(world: World) -> None:
    with in_partner(world.partner.partner):
        voucher = rewards.reward_redeem(
            member_id=world.partner.member.pk, reward_code=world.partner.reward_code
        )
    use_public_schema()
    world.extra["voucher"] = voucher.code


def _second_payment(world: World) -> None:
    with in_partner(world.partner.partner):
        view = rewards.points_payment_authorize(member_id=world.partner.member.pk, amount=5)
    use_public_schema()
    world.extra["payment"] = str(view.payment_id)


def _two_endpoints(world: World) -> None:
    world.extra["endpoints"] = [
        str(webhooks.webhook_endpoint_create(
            partner=world.partner.partner, url=f"https://app.example.com/hooks/{n}",
            events=["points_earned"],
        )[0].pk)
        for n in range(2)
    ]  # fmt: skip


def _two_closed_periods(world: World) -> None:
    world.extra["periods"] = [s.close_everything_before().number, close_now().number]


def _tier_e_mails_off(world: World, _answer: Any) -> None:
    """Another choice changed after the answer (which listed every choice)."""
    notification_preference_set(
        member_id=world.coalition.member.pk, kind="tier_changed", enabled=False
    )


def _earn_for_enrolled(world: World, answer: Any) -> None:
    member = Member.objects.get(member_number=answer["member"]["memberNumber"])
    ledger.earn(member_id=member.pk, partner_id=world.partner.partner.pk, points=40)


def _consume_redeemed(world: World, answer: Any) -> None:
    with in_partner(world.partner.partner):
        rewards.voucher_consume(code=answer["voucher"]["code"])
    use_public_schema()


def _two_catalogue_rewards(world: World) -> None:
    world.extra["rewards"] = [s.catalogue_reward(), s.catalogue_reward()]


def _two_member_vouchers(world: World) -> None:
    world.extra["vouchers"] = [s.member_voucher(world.coalition.member) for _ in range(2)]


def _consume_catalogue_voucher(world: World, answer: Any) -> None:
    """The partner's till uses the voucher the member redeemed."""
    with in_partner(Partner.objects.get(slug=answer["voucher"]["partner"])):
        rewards.voucher_consume(code=answer["voucher"]["code"])
    use_public_schema()


def _capture_authorized(world: World, answer: Any) -> None:
    with in_partner(world.partner.partner):
        rewards.points_payment_capture(payment_id=int(answer["payment"]["paymentId"]))
    use_public_schema()


def _disable_created(world: World, answer: Any) -> None:
    endpoint = WebhookEndpoint.objects.get(pk=int(answer["endpoint"]["id"]))
    webhooks.webhook_endpoint_deactivate(endpoint=endpoint)


def _close_the_next_period(world: World, _answer: Any) -> None:
    close_now()


def _a_store(world: World) -> None:
    world.extra["store"] = s.store(world.partner.partner)
    world.extra["other store"] = s.store(world.partner.partner)
    with in_partner(world.partner.partner):
        Store.objects.filter(code=world.extra["other store"]).update(is_active=False)
    use_public_schema()


def _a_draft(world: World) -> None:
    number, rule = s.rule_draft(world.partner.partner)
    with in_partner(world.partner.partner):
        other = earning.rule_add(
            version=RuleSetVersion.objects.get(number=number), kind="include_tax", params={}
        )
    use_public_schema()
    world.extra.update(draft=number, rule=str(rule), **{"other rule": str(other.pk)})


def _rename_store(world: World, code: str) -> None:
    with in_partner(world.partner.partner):
        store_services.store_update(code=code, name="Changed later", city="Elsewhere")
    use_public_schema()


def _reopen_store(world: World, code: str) -> None:
    with in_partner(world.partner.partner):
        store_services.store_reopen(code=code)
    use_public_schema()


def _add_a_rule(world: World, number: int | None) -> None:
    """A later change to what a rule-version answer showed: a rule added to
    that draft, or (for a published one) a new draft."""
    with in_partner(world.partner.partner):
        version = RuleSetVersion.objects.filter(number=number).first() if number else None
        if version is None or version.published_at is not None:
            version = earning.ruleset_draft_create(description="later")
        earning.rule_add(version=version, kind="include_tips", params={})
    use_public_schema()


def _set_point_value(world: World, value: str) -> None:
    with in_partner(world.partner.partner):
        rewards.payment_value_set(value_per_point=Decimal(value))
    use_public_schema()


def _two_rewards(world: World, *, retired: bool = False) -> None:
    codes = [f"idem-{s.unique('r')[-6:]}" for _ in range(2)]
    with in_partner(world.partner.partner):
        for code in codes:
            rewards.reward_create(code=code, name="Idempotent reward", points_price=100)
            if retired:
                rewards.reward_retire(code=code)
    use_public_schema()
    world.extra["rewards"] = codes


def _rename_reward(world: World, code: str) -> None:
    with in_partner(world.partner.partner):
        rewards.reward_update(code=code, name="Renamed later")
    use_public_schema()


def _two_campaigns(world: World, *, paused: bool = False) -> None:
    now = timezone.now()
    ids = []
    with in_partner(world.partner.partner):
        for n in range(2):
            campaign = earning.campaign_create(
                name=f"Idempotent campaign {n}", kind="bonus", params={"points": 5},
                starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
            )  # fmt: skip
            if paused:
                earning.campaign_pause(campaign_id=campaign.pk)
            ids.append(str(campaign.pk))
    use_public_schema()
    world.extra["campaigns"] = ids


def _end_campaign(world: World, campaign_id: str) -> None:
    with in_partner(world.partner.partner):
        earning.campaign_end(campaign_id=int(campaign_id))
    use_public_schema()


def _campaign_window() -> dict[str, str]:
    now = timezone.now()
    return {"startsAt": now.isoformat(), "endsAt": (now + timedelta(days=2)).isoformat()}


def _email(_world: World) -> Variables:
    return {"email": f"{s.unique('idem')}@example.com"}


def _member(world: World) -> str:
    return world.partner.member.member_number


PARTNER_CASES: dict[str, Case] = {
    "awardBehaviour": Case(
        s.AWARD_BEHAVIOUR, "partner", prepare=_rules,
        first=lambda w: {"member": _member(w), "event": "review"},
        other=lambda w: {"member": _member(w), "event": "review", "ref": "review-2"},
    ),
    "recordReferral": Case(
        s.RECORD_REFERRAL, "partner", prepare=_rules,
        first=lambda w: {"referrer": _member(w), "referee": w.extra["referees"][0]},
        other=lambda w: {"referrer": _member(w), "referee": w.extra["referees"][1]},
    ),
    "cancelVoucher": Case(
        s.CANCEL_VOUCHER, "partner", prepare=_second_voucher,
        first=lambda w: {"code": w.partner.voucher_code},
        other=lambda w: {"code": w.extra["voucher"]},
    ),
    "issueMemberToken": Case(
        s.ISSUE_TOKEN, "partner",
        first=lambda w: {"member": _member(w)},
        other=lambda w: {"member": w.coalition.member.member_number},
    ),
    "enrolMember": Case(
        s.ENROL, "partner", first=_email, other=_email, later=_earn_for_enrolled
    ),
    "recordPurchase": Case(
        s.RECORD_PURCHASE, "partner",
        first=lambda w: {"receipt": s.receipt(_member(w), "EUR", external_id="R-1")},
        other=lambda w: {"receipt": s.receipt(_member(w), "EUR", external_id="R-2")},
    ),
    "returnPurchase": Case(
        s.RETURN_PURCHASE, "partner",
        first=lambda w: {"externalId": w.partner.purchase_id,
                         "lines": [{"lineNumber": 1, "quantity": 1}]},
        other=lambda w: {"externalId": w.partner.purchase_id,
                         "lines": [{"lineNumber": 1, "quantity": 2}]},
    ),
    "redeemReward": Case(
        s.REDEEM_REWARD, "partner", later=_consume_redeemed,
        first=lambda w: {"member": _member(w), "reward": w.partner.reward_code},
        other=lambda w: {"member": _member(w), "reward": w.partner.reward_code,
                         "channel": "app"},
    ),
    "adjustPoints": Case(
        s.ADJUST_POINTS, "partner",
        first=lambda w: {"member": _member(w), "points": 12, "reason": "goodwill"},
        other=lambda w: {"member": _member(w), "points": 13, "reason": "goodwill"},
    ),
    "consumeVoucher": Case(
        s.CONSUME_VOUCHER, "partner", prepare=_second_voucher,
        first=lambda w: {"code": w.partner.voucher_code},
        other=lambda w: {"code": w.extra["voucher"]},
    ),
    "authorizePointsPayment": Case(
        s.AUTHORIZE_PAYMENT, "partner", later=_capture_authorized,
        first=lambda w: {"member": _member(w), "amount": 40},
        other=lambda w: {"member": _member(w), "amount": 41},
    ),
    "capturePointsPayment": Case(
        s.CAPTURE_PAYMENT, "partner",
        first=lambda w: {"payment": str(w.partner.payment_id)},
        other=lambda w: {"payment": str(w.partner.payment_id), "amount": 10},
    ),
    "voidPointsPayment": Case(
        s.VOID_PAYMENT, "partner", prepare=_second_payment,
        first=lambda w: {"payment": str(w.partner.payment_id)},
        other=lambda w: {"payment": w.extra["payment"]},
    ),
    "createStore": Case(
        s.CREATE_STORE, "partner",
        first=lambda w: {"code": "IDEM-1", "name": "First"},
        other=lambda w: {"code": "IDEM-2", "name": "Second"},
        later=lambda w, a: _rename_store(w, a["store"]["code"]),
    ),
    "updateStore": Case(
        s.UPDATE_STORE, "partner", prepare=_a_store,
        first=lambda w: {"code": w.extra["store"], "name": "Renamed"},
        other=lambda w: {"code": w.extra["store"], "name": "Other name"},
        later=lambda w, a: _rename_store(w, a["store"]["code"]),
    ),
    "closeStore": Case(
        s.CLOSE_STORE, "partner", prepare=_a_store,
        first=lambda w: {"code": w.extra["store"]},
        other=lambda w: {"code": w.extra["other store"]},
        later=lambda w, a: _reopen_store(w, a["store"]["code"]),
    ),
    "reopenStore": Case(
        s.REOPEN_STORE, "partner", prepare=_a_store,
        first=lambda w: {"code": w.extra["store"]},
        other=lambda w: {"code": w.extra["other store"]},
        later=lambda w, a: _rename_store(w, a["store"]["code"]),
    ),
    "createRuleDraft": Case(
        s.CREATE_RULE_DRAFT, "partner",
        first=lambda w: {"description": "first"},
        other=lambda w: {"description": "second"},
        later=lambda w, a: _add_a_rule(w, a["version"]["number"]),
    ),
    "addEarnRule": Case(
        s.ADD_EARN_RULE, "partner", prepare=_a_draft,
        first=lambda w: {"version": w.extra["draft"], "kind": "receipt_cap",
                         "params": '{"points": 100}'},
        other=lambda w: {"version": w.extra["draft"], "kind": "receipt_cap",
                         "params": '{"points": 200}'},
        later=lambda w, a: _add_a_rule(w, a["version"]["number"]),
    ),
    "removeEarnRule": Case(
        s.REMOVE_EARN_RULE, "partner", prepare=_a_draft,
        first=lambda w: {"version": w.extra["draft"], "rule": w.extra["rule"]},
        other=lambda w: {"version": w.extra["draft"], "rule": w.extra["other rule"]},
        later=lambda w, a: _add_a_rule(w, a["version"]["number"]),
    ),
    "publishRuleVersion": Case(
        s.PUBLISH_RULE_VERSION, "partner", prepare=_a_draft,
        first=lambda w: {"version": w.extra["draft"]},
        other=lambda w: {"version": w.extra["draft"],
                         "effectiveFrom": "2999-01-01T00:00:00+00:00"},
        later=lambda w, a: _add_a_rule(w, None),
    ),
    "createReward": Case(
        s.CREATE_REWARD, "partner",
        first=lambda w: {"code": "idem-new-1", "name": "First", "price": 50},
        other=lambda w: {"code": "idem-new-2", "name": "Second", "price": 60},
        later=lambda w, a: _rename_reward(w, a["reward"]["code"]),
    ),
    "updateReward": Case(
        s.UPDATE_REWARD, "partner", prepare=_two_rewards,
        first=lambda w: {"code": w.extra["rewards"][0], "price": 75},
        other=lambda w: {"code": w.extra["rewards"][0], "price": 80},
        later=lambda w, a: _rename_reward(w, a["reward"]["code"]),
    ),
    "retireReward": Case(
        s.RETIRE_REWARD, "partner", prepare=_two_rewards,
        first=lambda w: {"code": w.extra["rewards"][0]},
        other=lambda w: {"code": w.extra["rewards"][1]},
        later=lambda w, a: _rename_reward(w, a["reward"]["code"]),
    ),
    "restoreReward": Case(
        s.RESTORE_REWARD, "partner", prepare=lambda w: _two_rewards(w, retired=True),
        first=lambda w: {"code": w.extra["rewards"][0]},
        other=lambda w: {"code": w.extra["rewards"][1]},
        later=lambda w, a: _rename_reward(w, a["reward"]["code"]),
    ),
    "createCampaign": Case(
        s.CREATE_CAMPAIGN, "partner",
        first=lambda w: {"name": "First", "kind": "bonus", "params": '{"points": 10}',
                         **_campaign_window()},
        other=lambda w: {"name": "Second", "kind": "bonus", "params": '{"points": 20}',
                         **_campaign_window()},
        later=lambda w, a: _end_campaign(w, a["campaign"]["id"]),
    ),
    "pauseCampaign": Case(
        s.PAUSE_CAMPAIGN, "partner", prepare=_two_campaigns,
        first=lambda w: {"campaign": w.extra["campaigns"][0]},
        other=lambda w: {"campaign": w.extra["campaigns"][1]},
        later=lambda w, a: _end_campaign(w, a["campaign"]["id"]),
    ),
    "resumeCampaign": Case(
        s.RESUME_CAMPAIGN, "partner", prepare=lambda w: _two_campaigns(w, paused=True),
        first=lambda w: {"campaign": w.extra["campaigns"][0]},
        other=lambda w: {"campaign": w.extra["campaigns"][1]},
        later=lambda w, a: _end_campaign(w, a["campaign"]["id"]),
    ),
    "endCampaign": Case(
        s.END_CAMPAIGN, "partner", prepare=_two_campaigns,
        first=lambda w: {"campaign": w.extra["campaigns"][0]},
        other=lambda w: {"campaign": w.extra["campaigns"][1]},
    ),
    "setPointValue": Case(
        s.SET_POINT_VALUE, "partner",
        first=lambda w: {"value": "2.5"},
        other=lambda w: {"value": "3"},
        later=lambda w, a: _set_point_value(w, "7"),
    ),
    "createWebhookEndpoint": Case(
        s.CREATE_WEBHOOK, "partner", later=_disable_created,
        first=lambda w: {"url": "https://app.example.com/a", "events": ["POINTS_EARNED"]},
        other=lambda w: {"url": "https://app.example.com/b", "events": ["POINTS_EARNED"]},
    ),
    "disableWebhookEndpoint": Case(
        s.DISABLE_WEBHOOK, "partner", prepare=_two_endpoints,
        first=lambda w: {"id": w.extra["endpoints"][0]},
        other=lambda w: {"id": w.extra["endpoints"][1]},
    ),
}  # fmt: skip

COALITION_CASES: dict[str, Case] = {
    "transferPoints": Case(
        s.TRANSFER_POINTS, "member",
        first=lambda w: {"to": w.coalition.friend.member_number, "points": 100},
        other=lambda w: {"to": w.coalition.friend.member_number, "points": 101},
    ),
    "poolToHousehold": Case(
        s.POOL_TO_HOUSEHOLD, "member",
        first=lambda w: {"points": 100}, other=lambda w: {"points": 99},
    ),
    "createHousehold": Case(
        s.CREATE_HOUSEHOLD, "member", prepare=_member_leaves,
        first=lambda w: {"name": "Ours"}, other=lambda w: {"name": "Theirs"},
    ),
    "inviteToHousehold": Case(
        s.INVITE_TO_HOUSEHOLD, "member", prepare=_member_heads_a_household,
        first=lambda w: {"email": "a@example.com"}, other=lambda w: {"email": "b@example.com"},
    ),
    "acceptHouseholdInvite": Case(
        s.ACCEPT_HOUSEHOLD_INVITE, "member", prepare=_two_invitations,
        first=lambda w: {"invite": w.extra["invites"][0]},
        other=lambda w: {"invite": w.extra["invites"][1]},
    ),
    "leaveHousehold": Case(
        s.LEAVE_HOUSEHOLD, "member", first=lambda w: {}, other=lambda w: {"name": "Next"},
        other_mutation=("createHousehold", s.CREATE_HOUSEHOLD),
    ),
    "donatePoints": Case(
        s.DONATE_POINTS, "member",
        first=lambda w: {"charity": w.coalition.charity, "points": 100},
        other=lambda w: {"charity": w.coalition.charity, "points": 50},
    ),
    "closePeriod": Case(
        s.CLOSE_PERIOD, "operator", later=_close_the_next_period,
        first=lambda w: {}, other=lambda w: {"number": w.extra["periods"][0]},
        other_mutation=("payOutPeriod", s.PAY_OUT_PERIOD), prepare=_two_closed_periods,
    ),
    "payOutPeriod": Case(
        s.PAY_OUT_PERIOD, "operator", prepare=_two_closed_periods, stripe=True,
        first=lambda w: {"number": w.extra["periods"][0]},
        other=lambda w: {"number": w.extra["periods"][1]},
    ),
    "redeemCatalogueReward": Case(
        s.REDEEM_CATALOGUE_REWARD, "member", later=_consume_catalogue_voucher,
        prepare=_two_catalogue_rewards,
        first=lambda w: w.extra["rewards"][0], other=lambda w: w.extra["rewards"][1],
    ),
    # Anonymous callers' keys are scoped to the address (the same address written
    # otherwise is other input) and to the challenge (another code is other input).
    "startMemberSignIn": Case(
        s.START_MEMBER_SIGN_IN, "anonymous",
        first=lambda w: {"email": w.coalition.member.email},
        other=lambda w: {"email": w.coalition.member.email.upper()},
    ),
    "completeMemberSignIn": Case(
        s.COMPLETE_MEMBER_SIGN_IN, "anonymous", prepare=_sign_in_started,
        first=lambda w: w.extra["sign_in"],
        other=lambda w: {**w.extra["sign_in"], "code": _another_code(w.extra["sign_in"])},
    ),
    "cancelMyVoucher": Case(
        s.CANCEL_MY_VOUCHER, "member", prepare=_two_member_vouchers,
        first=lambda w: w.extra["vouchers"][0], other=lambda w: w.extra["vouchers"][1],
    ),
    "updateMyEmailChoices": Case(
        s.UPDATE_MY_EMAIL_CHOICES, "member", later=_tier_e_mails_off,
        first=lambda w: {"choices": [{"kind": "points_earned", "enabled": False}]},
        other=lambda w: {"choices": [{"kind": "points_earned", "enabled": True}]},
    ),
}  # fmt: skip

MATRIX = [
    (host, name)
    for host, schema in ((s.HOST_A, partner_schema), (s.PUBLIC_HOST, coalition_schema))
    for name in schema.graphql_schema.mutation_type.fields
]


def _case(host: str, name: str) -> Case:
    cases = PARTNER_CASES if host == s.HOST_A else COALITION_CASES
    if name not in cases:
        pytest.fail(f"mutation {name} has no case in the idempotency matrix: add one")
    return cases[name]


def _token(world: World, case: Case) -> str | None:
    return {"partner": world.partner_key, "member": world.member_token,
            "operator": world.operator_key, "anonymous": None}[case.caller]  # fmt: skip


def test_the_matrix_has_a_case_for_every_mutation_and_no_other() -> None:
    # given / when: the mutation fields of both schemas
    partner = set(partner_schema.graphql_schema.mutation_type.fields)
    coalition = set(coalition_schema.graphql_schema.mutation_type.fields)

    # then: the case tables name exactly those
    assert set(PARTNER_CASES) == partner
    assert set(COALITION_CASES) == coalition


@pytest.mark.parametrize(("host", "name"), MATRIX)
def test_the_same_key_and_input_replay_the_original_answer_after_later_changes(
    db: None, partner_a: Partner, host: str, name: str
) -> None:
    # given: a mutation done once with key "same"
    case = _case(host, name)
    world = _world(partner_a)
    if case.prepare:
        case.prepare(world)
    variables, token = {"key": "same", **case.first(world)}, _token(world, case)
    with running_stripe_fake() if case.stripe else nullcontext():
        first = s.gql(host, case.document, variables, token).payload(name)
        assert first["errors"] == [], first

        # when: later operations change what it showed, then the client retries
        case.later(world, first)
        before = s.books(partner_a)
        replay = s.gql(host, case.document, variables, token).payload(name)

    # then: the original answer, whole, and the retry changed nothing
    assert replay == first
    assert s.books(partner_a) == before


@pytest.mark.parametrize(("host", "name"), MATRIX)
def test_the_same_key_with_other_input_is_refused_and_changes_nothing(
    db: None, partner_a: Partner, host: str, name: str
) -> None:
    # given: a mutation done once with key "same"
    case = _case(host, name)
    world = _world(partner_a)
    if case.prepare:
        case.prepare(world)
    token = _token(world, case)
    with running_stripe_fake() if case.stripe else nullcontext():
        done = s.gql(host, case.document, {"key": "same", **case.first(world)}, token)
        assert done.payload(name)["errors"] == [], done.body
        before = s.books(partner_a)

        # when: the key comes back with other input (or for another mutation)
        other_name, document = case.other_mutation or (name, case.document)
        reply = s.gql(host, document, {"key": "same", **case.other(world)}, token)

    # then: a typed error, nothing else answered, and nothing written
    assert reply.codes(other_name) == ["IDEMPOTENCY_KEY_REUSED"]
    payload = reply.payload(other_name)
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    assert s.books(partner_a) == before


def test_a_transfer_replayed_after_spending_answers_the_balance_it_left(
    db: None, partner_a: Partner
) -> None:
    # given: a member with 1000 points who gave 100 away with key "t1"
    world = s.coalition_world(partner_a)
    token = member_token_issue(world.member.pk)
    variables = {"key": "t1", "to": world.friend.member_number, "points": 100}
    first = s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS, variables, token).payload("transferPoints")

    # when: the member spends 300 more, then the transfer request is retried
    ledger.burn(member_id=world.member.pk, partner_id=partner_a.pk, points=300)
    replay = s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS, variables, token).payload("transferPoints")

    # then: the balance the transfer left, not today's; the points moved once
    assert first == replay == {"balanceAfter": 900, "errors": []}
    assert ledger_selectors.balance(world.member.pk) == 600
    assert ledger_selectors.balance(world.friend.pk) == 100


def test_partners_using_the_same_key_do_not_collide(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: alpha and beta with rules, points payments and a member each
    alpha, beta = s.partner_world(partner_a), s.partner_world(partner_b)
    key_a, key_b = s.partner_key(partner_a), s.partner_key(partner_b)

    # when: both enrol, record a purchase and authorise a payment with key "k1"
    emails = [f"{s.unique('k1')}@example.com" for _ in range(2)]
    enrolled = [
        s.gql(host, s.ENROL, {"key": "k1", "email": email}, key).payload("enrolMember")
        for host, key, email in ((s.HOST_A, key_a, emails[0]), (s.HOST_B, key_b, emails[1]))
    ]
    bought = [
        s.gql(world.host, s.RECORD_PURCHASE, {"key": "k2", "receipt": s.receipt(
            world.member.member_number, world.partner.default_currency)}, key
        ).payload("recordPurchase")
        for world, key in ((alpha, key_a), (beta, key_b))
    ]  # fmt: skip
    paid = [
        s.gql(world.host, s.AUTHORIZE_PAYMENT, {"key": "k3", "member":
              world.member.member_number, "amount": 7}, key).payload("authorizePointsPayment")
        for world, key in ((alpha, key_a), (beta, key_b))
    ]  # fmt: skip

    # then: each is its own, done for real: two members, two purchases, two holds
    for payload in (*enrolled, *bought, *paid):
        assert payload["errors"] == [], payload
    assert [p["member"]["email"] for p in enrolled] == emails
    assert Member.objects.filter(email__in=emails).count() == 2
    for world, payload in zip((alpha, beta), bought, strict=True):
        with in_partner(world.partner):
            assert Purchase.objects.filter(external_id=payload["purchase"]["externalId"]).exists()
    use_public_schema()
    assert paid[0]["payment"]["amount"]["currency"] == "EUR"
    assert paid[1]["payment"]["amount"]["currency"] == "GBP"


def test_members_using_the_same_key_do_not_collide(db: None, partner_a: Partner) -> None:
    # given: two members with points and a friend to give them to
    world = s.coalition_world(partner_a)
    other = s.funded_member(partner_a, 500)

    # when: both transfer with key "k1"
    replies = [
        s.gql(s.PUBLIC_HOST, s.TRANSFER_POINTS, {"key": "k1", "to": world.friend.member_number,
              "points": points}, member_token_issue(member.pk)).payload("transferPoints")
        for member, points in ((world.member, 100), (other, 30))
    ]  # fmt: skip

    # then: two transfers, not a replay and not a refusal
    assert replies == [{"balanceAfter": 900, "errors": []}, {"balanceAfter": 470, "errors": []}]
    assert ledger_selectors.balance(world.friend.pk) == 130


def test_a_failed_request_keeps_nothing_and_its_retry_acts(db: None, partner_a: Partner) -> None:
    # given: a member with too few points for a 1,000-point payment
    world = s.partner_world(partner_a, points=300)
    key = s.partner_key(partner_a)
    variables = {"key": "p1", "member": world.member.member_number, "amount": 1000}
    refused = s.gql(s.HOST_A, s.AUTHORIZE_PAYMENT, variables, key)
    assert refused.codes("authorizePointsPayment") == ["INSUFFICIENT_POINTS"]

    # when: the member earns enough and the till retries with the same key
    ledger.earn(member_id=world.member.pk, partner_id=partner_a.pk, points=2000)
    retried = s.gql(s.HOST_A, s.AUTHORIZE_PAYMENT, variables, key)

    # then: the retry acted (a refusal is not an answer to replay)
    payment = retried.payload("authorizePointsPayment")
    assert payment["errors"] == [], payment
    assert payment["payment"]["status"] == "authorized"


def test_an_empty_key_is_refused(db: None, partner_a: Partner) -> None:
    # given: a member
    member = s.enrol()
    before = s.books(partner_a)

    # when: a partner app sends an empty idempotency key
    reply = s.gql(s.HOST_A, s.ISSUE_TOKEN, {"key": "", "member": member.member_number},
                  s.partner_key(partner_a))  # fmt: skip

    # then: a typed error naming the key, and nothing done
    assert reply.codes("issueMemberToken") == ["INVALID_IDEMPOTENCY_KEY"]
    assert s.books(partner_a) == before


TWINS = 6


def test_twins_racing_with_one_key_act_once(live_db: None) -> None:
    # given: a partner of its own (committed data) awarding reviews up to five
    # times, a member, and the partner's app key
    partner = s.onboard(prefix="twins", currency="EUR")
    with tenant_context(partner):
        BehaviourRule.objects.create(event="review", points=25, max_awards=5, period="lifetime")
    use_public_schema()
    member = unique_member("twins")
    _, token = api_key_create(name="till", scopes=["earn"], partner=partner)
    host = s.host_of(partner)
    variables = {"key": f"twin-{uuid.uuid4().hex}", "member": member.member_number,
                 "event": "review"}  # fmt: skip
    barrier = threading.Barrier(TWINS)

    # when: six tills send the same award request at the same moment
    def award(_: int) -> Any:
        return s.gql(host, s.AWARD_BEHAVIOUR, variables, token).payload("awardBehaviour")

    outcomes = run_threads(TWINS, award, barrier=barrier)

    # then: one award, and every till got its answer
    assert [outcome.error for outcome in outcomes] == [None] * TWINS
    assert [outcome.value for outcome in outcomes] == [{"points": 25, "errors": []}] * TWINS
    with tenant_context(partner):
        assert BehaviourAward.objects.filter(member_id=member.pk).count() == 1
    use_public_schema()
    assert ledger_selectors.balance(member.pk) == 25


def test_a_member_token_replayed_later_is_the_same_token(db: None, partner_a: Partner) -> None:
    # given: a token issued with key "t1"
    member = s.enrol()
    key = s.partner_key(partner_a, ["members"])
    variables = {"key": "t1", "member": member.member_number}
    first = s.gql(s.HOST_A, s.ISSUE_TOKEN, variables, key).payload("issueMemberToken")

    # when: a minute later, the app retries with "t1" and asks for another with "t2"
    later = time.time() + 60
    with mock.patch("django.core.signing.time.time", return_value=later):
        replay = s.gql(s.HOST_A, s.ISSUE_TOKEN, variables, key).payload("issueMemberToken")
        fresh = s.gql(s.HOST_A, s.ISSUE_TOKEN, {**variables, "key": "t2"}, key).payload(
            "issueMemberToken"
        )

    # then: the retry answers the very token first issued (not a newer one), and
    # the token is not what was stored (only its signed value is)
    assert replay == first
    assert fresh["token"] != first["token"]
    assert not StoredAnswer.objects.filter(answer__icontains=first["token"]).exists()
    me = s.gql(s.PUBLIC_HOST, s.ME_QUERY, None, replay["token"]).payload("me")
    assert me["memberNumber"] == member.member_number


def test_erasure_forgets_the_stored_answer_to_the_enrolment(db: None, partner_a: Partner) -> None:
    # given: a member enrolled over the API with key "e1" (the answer shows the address)
    key = s.partner_key(partner_a)
    email = f"{s.unique('erase')}@example.com"
    enrolled = s.gql(s.HOST_A, s.ENROL, {"key": "e1", "email": email}, key).payload("enrolMember")
    member = Member.objects.get(member_number=enrolled["member"]["memberNumber"])
    assert StoredAnswer.objects.filter(answer__member__email=email).exists()

    # when: the member is erased
    member_erase(member_id=member.pk)

    # then: no stored answer keeps the address or a fingerprint over it, and the
    # key is free again, as the member's own enrolment key is
    assert not StoredAnswer.objects.filter(scope=f"partner:{partner_a.pk}", key="e1").exists()
    again = s.gql(s.HOST_A, s.ENROL, {"key": "e1", "email": email}, key).payload("enrolMember")
    assert again["errors"] == [], again
    assert again["member"]["memberNumber"] != member.member_number
