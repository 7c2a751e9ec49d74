"""The permission matrix of every operation of both schemas, over HTTP.

Partner host: the partner's own key with the operation's scope may act; another
partner's key, a member token and an operator key are refused with HTTP 403
before anything runs; an anonymous caller and the own key missing the scope get
a typed PERMISSION_DENIED (in the payload of a mutation, as a GraphQL error with
``extensions.code`` for a query). Coalition host: member operations take a member
token, operator operations an operator key, and any partner key is a 403.
Whatever is refused, nothing changes (``books``). The matrix names every root
field of both schemas: a new operation cannot ship without its row.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from graphql import FieldNode, OperationDefinitionNode, parse

from coalition.webhooks import services as webhooks
from loyalty_graphql.schema import coalition_schema, partner_schema
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning import services as earning
from tenants.earning.models import BehaviourRule
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.stores.models import Store
from tests.testkit import api as s
from tests.testkit import in_partner
from tests.testkit.settlement import running_stripe_fake

Variables = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    name: str  # the root field, or the alias the document gives it
    document: str
    scope: str | None  # None: open to anyone who reaches the host
    mutation: bool
    variables: Variables
    # Set-up the operation needs beyond the world, before the books are counted;
    # what it returns is added to the variables.
    prepare: Variables | None = None
    stripe: bool = False  # the allowed call talks to Stripe (the local fake)

    def __str__(self) -> str:
        return self.name


def _none(_world: Any) -> dict[str, Any]:
    return {}


def _behaviour_rule(world: s.PartnerWorld) -> dict[str, Any]:
    with in_partner(world.partner):
        BehaviourRule.objects.create(event="review", points=25, max_awards=5, period="lifetime")
    use_public_schema()
    return {}


def _referral_rule_and_referee(world: s.PartnerWorld) -> dict[str, Any]:
    with in_partner(world.partner):
        BehaviourRule.objects.create(event="referral", points=100, referee_points=50, max_awards=5)
    use_public_schema()
    return {"referee": s.enrol("referee").member_number}


def _endpoint_with_a_delivery(world: s.PartnerWorld) -> dict[str, Any]:
    endpoint, _ = webhooks.webhook_endpoint_create(
        partner=world.partner, url="https://app.example.com/hooks", events=["points_earned"]
    )
    webhooks.emit(world.partner.pk, "points_earned", {"points": 5})  # never sent: no commit
    return {"id": str(endpoint.pk)}


def _store(world: s.PartnerWorld) -> dict[str, Any]:
    return {"code": s.store(world.partner)}


def _closed_store(world: s.PartnerWorld) -> dict[str, Any]:
    code = s.store(world.partner)
    with in_partner(world.partner):
        Store.objects.filter(code=code).update(is_active=False)
    use_public_schema()
    return {"code": code}


def _draft(world: s.PartnerWorld) -> dict[str, Any]:
    number, rule = s.rule_draft(world.partner)
    return {"version": number, "rule": str(rule)}


def _reward(world: s.PartnerWorld, *, retired: bool = False) -> dict[str, Any]:
    code = f"matrix-{s.unique('r')[-6:]}"
    with in_partner(world.partner):
        rewards.reward_create(code=code, name="Matrix reward", points_price=100)
        if retired:
            rewards.reward_retire(code=code)
    use_public_schema()
    return {"code": code}


def _campaign(world: s.PartnerWorld, *, paused: bool = False) -> dict[str, Any]:
    now = timezone.now()
    with in_partner(world.partner):
        campaign = earning.campaign_create(
            name="Matrix campaign", kind="bonus", params={"points": 5},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
        )  # fmt: skip
        if paused:
            earning.campaign_pause(campaign_id=campaign.pk)
    use_public_schema()
    return {"campaign": str(campaign.pk)}


def _closed_period(_world: s.CoalitionWorld) -> dict[str, Any]:
    return {"number": s.close_everything_before().number}


PARTNER_OPERATIONS = (
    Operation("member", s.MEMBER_QUERY, "read", False,
              lambda w: {"lookup": {"memberNumber": w.member.member_number}}),
    Operation("purchasePreview", s.PREVIEW_QUERY, "earn", False,
              lambda w: {"receipt": s.receipt(w.member.member_number, "EUR")}),
    Operation("rewards", s.REWARDS_QUERY, "read", False, _none),
    Operation("voucher", s.VOUCHER_QUERY, "redeem", False, lambda w: {"code": w.voucher_code}),
    Operation("statements", s.STATEMENTS_QUERY, "settlement", False, _none),
    Operation("livePosition", s.LIVE_POSITION_QUERY, "settlement", False, _none),
    Operation("partner", s.PARTNER_QUERY, None, False, _none),
    Operation("stores", s.STORES_QUERY, None, False, _none),
    Operation("enrolMember", s.ENROL, "members", True,
              lambda w: {"key": "m1", "email": f"{s.unique('matrix')}@example.com"}),
    Operation("recordPurchase", s.RECORD_PURCHASE, "earn", True,
              lambda w: {"key": "m1", "receipt": s.receipt(w.member.member_number, "EUR")}),
    Operation("returnPurchase", s.RETURN_PURCHASE, "earn", True,
              lambda w: {"key": "m1", "externalId": w.purchase_id,
                         "lines": [{"lineNumber": 1, "quantity": 1}]}),
    Operation("redeemReward", s.REDEEM_REWARD, "redeem", True,
              lambda w: {"key": "m1", "member": w.member.member_number,
                         "reward": w.reward_code}),
    Operation("adjustPoints", s.ADJUST_POINTS, "adjust", True,
              lambda w: {"key": "m1", "member": w.member.member_number, "points": 10,
                         "reason": "goodwill"}),
    Operation("consumeVoucher", s.CONSUME_VOUCHER, "redeem", True,
              lambda w: {"key": "m1", "code": w.voucher_code}),
    Operation("authorizePointsPayment", s.AUTHORIZE_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "member": w.member.member_number, "amount": 30}),
    Operation("capturePointsPayment", s.CAPTURE_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "payment": str(w.payment_id)}),
    Operation("voidPointsPayment", s.VOID_PAYMENT, "redeem", True,
              lambda w: {"key": "m1", "payment": str(w.payment_id)}),
    Operation("issueMemberToken", s.ISSUE_TOKEN, "members", True,
              lambda w: {"key": "m1", "member": w.member.member_number}),
    Operation("awardBehaviour", s.AWARD_BEHAVIOUR, "earn", True,
              lambda w: {"key": "m1", "member": w.member.member_number, "event": "review",
                         "ref": "review-1"},
              prepare=_behaviour_rule),
    Operation("recordReferral", s.RECORD_REFERRAL, "earn", True,
              lambda w: {"key": "m1", "referrer": w.member.member_number},
              prepare=_referral_rule_and_referee),
    Operation("cancelVoucher", s.CANCEL_VOUCHER, "redeem", True,
              lambda w: {"key": "m1", "code": w.voucher_code}),
    Operation("liability", s.PARTNER_LIABILITY_QUERY, "settlement", False, _none),
    Operation("memberHistory", s.MEMBER_HISTORY_QUERY, "read", False,
              lambda w: {"number": w.member.member_number, "kind": "EARN", "partner": "alpha",
                         "occurredAfter": "2000-01-01T00:00:00+00:00"}),
    Operation("memberLots", s.MEMBER_LOTS_QUERY, "read", False,
              lambda w: {"number": w.member.member_number, "first": 5}),
    Operation("webhookEndpoints", s.WEBHOOK_ENDPOINTS_QUERY, "settlement", False, _none,
              prepare=_endpoint_with_a_delivery),
    Operation("webhookDeliveries", s.WEBHOOK_DELIVERIES_QUERY, "settlement", False,
              lambda w: {"first": 5}, prepare=_endpoint_with_a_delivery),
    Operation("createWebhookEndpoint", s.CREATE_WEBHOOK, "settlement", True,
              lambda w: {"key": "m1", "url": "https://app.example.com/hooks",
                         "events": ["POINTS_EARNED", "TIER_CHANGED"]}),
    Operation("disableWebhookEndpoint", s.DISABLE_WEBHOOK, "settlement", True,
              lambda w: {"key": "m1"}, prepare=_endpoint_with_a_delivery),
    Operation("ruleVersions", s.RULE_VERSIONS_QUERY, "configure", False, _none),
    Operation("ruleVersion", s.RULE_VERSION_QUERY, "configure", False, lambda w: {"number": 1}),
    Operation("createStore", s.CREATE_STORE, "configure", True,
              lambda w: {"key": "m1", "code": "MATRIX-1", "name": "Matrix shop"}),
    Operation("updateStore", s.UPDATE_STORE, "configure", True,
              lambda w: {"key": "m1", "name": "Renamed"}, prepare=_store),
    Operation("closeStore", s.CLOSE_STORE, "configure", True, lambda w: {"key": "m1"},
              prepare=_store),
    Operation("reopenStore", s.REOPEN_STORE, "configure", True, lambda w: {"key": "m1"},
              prepare=_closed_store),
    Operation("createRuleDraft", s.CREATE_RULE_DRAFT, "configure", True,
              lambda w: {"key": "m1", "description": "matrix"}),
    Operation("addEarnRule", s.ADD_EARN_RULE, "configure", True,
              lambda w: {"key": "m1", "kind": "receipt_cap", "params": '{"points": 100}'},
              prepare=_draft),
    Operation("removeEarnRule", s.REMOVE_EARN_RULE, "configure", True, lambda w: {"key": "m1"},
              prepare=_draft),
    Operation("publishRuleVersion", s.PUBLISH_RULE_VERSION, "configure", True,
              lambda w: {"key": "m1"}, prepare=_draft),
    Operation("setPointValue", s.SET_POINT_VALUE, "configure", True,
              lambda w: {"key": "m1", "value": "2.5"}),
    Operation("createReward", s.CREATE_REWARD, "configure", True,
              lambda w: {"key": "m1", "code": "matrix-new", "name": "Matrix", "price": 50}),
    Operation("updateReward", s.UPDATE_REWARD, "configure", True,
              lambda w: {"key": "m1", "price": 75}, prepare=_reward),
    Operation("retireReward", s.RETIRE_REWARD, "configure", True, lambda w: {"key": "m1"},
              prepare=_reward),
    Operation("restoreReward", s.RESTORE_REWARD, "configure", True, lambda w: {"key": "m1"},
              prepare=lambda w: _reward(w, retired=True)),
    Operation("campaigns", s.CAMPAIGNS_QUERY, "configure", False, _none, prepare=_campaign),
    Operation("createCampaign", s.CREATE_CAMPAIGN, "configure", True,
              lambda w: {"key": "m1", "name": "Matrix", "kind": "bonus",
                         "params": '{"points": 10}',
                         "startsAt": timezone.now().isoformat(),
                         "endsAt": (timezone.now() + timedelta(days=2)).isoformat()}),
    Operation("pauseCampaign", s.PAUSE_CAMPAIGN, "configure", True, lambda w: {"key": "m1"},
              prepare=_campaign),
    Operation("resumeCampaign", s.RESUME_CAMPAIGN, "configure", True, lambda w: {"key": "m1"},
              prepare=lambda w: _campaign(w, paused=True)),
    Operation("endCampaign", s.END_CAMPAIGN, "configure", True, lambda w: {"key": "m1"},
              prepare=_campaign),
)  # fmt: skip

MEMBER_ONLY, OPERATOR_ONLY = "member", "operator"
COALITION_OPERATIONS = (
    Operation("partners", s.PARTNERS_QUERY, None, False, _none),
    Operation("catalogue", s.CATALOGUE_QUERY, None, False, lambda w: {"first": 5}),
    Operation("me", s.ME_QUERY, MEMBER_ONLY, False, _none),
    Operation("liability", s.LIABILITY_QUERY, OPERATOR_ONLY, False, _none),
    Operation("periods", s.PERIODS_QUERY, OPERATOR_ONLY, False, _none),
    Operation("netting", s.NETTING_QUERY, OPERATOR_ONLY, False, _none,
              prepare=lambda w: {"period": s.close_everything_before().number}),
    Operation("transferPoints", s.TRANSFER_POINTS, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "to": w.friend.member_number, "points": 10}),
    Operation("poolToHousehold", s.POOL_TO_HOUSEHOLD, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "points": 10}),
    Operation("createHousehold", s.CREATE_HOUSEHOLD, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "name": "Mine"},
              prepare=lambda w: s.leave_household(w.member) or {}),
    Operation("inviteToHousehold", s.INVITE_TO_HOUSEHOLD, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "email": "invited@example.com"},
              prepare=lambda w: s.head_own_household(w.member)),
    Operation("acceptHouseholdInvite", s.ACCEPT_HOUSEHOLD_INVITE, MEMBER_ONLY, True,
              lambda w: {"key": "m1"},
              prepare=lambda w: {"invite": str(s.invite_to_friends_household(w))}),
    Operation("leaveHousehold", s.LEAVE_HOUSEHOLD, MEMBER_ONLY, True, lambda w: {"key": "m1"}),
    Operation("myHousehold", s.MY_HOUSEHOLD_ONLY_QUERY, MEMBER_ONLY, False, _none),
    Operation("myHouseholdInvites", s.MY_HOUSEHOLD_INVITES_QUERY, MEMBER_ONLY, False, _none),
    Operation("myTransferAllowance", s.MY_TRANSFER_ALLOWANCE_QUERY, MEMBER_ONLY, False,
              lambda w: {"household": True}),
    Operation("donatePoints", s.DONATE_POINTS, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "charity": w.charity, "points": 10}),
    Operation("closePeriod", s.CLOSE_PERIOD, OPERATOR_ONLY, True, lambda w: {"key": "m1"}),
    Operation("meHistory", s.ME_HISTORY_QUERY, MEMBER_ONLY, False,
              lambda w: {"kind": "EARN", "partner": "alpha", "first": 5}),
    Operation("charityStatements", s.CHARITY_STATEMENTS_QUERY, OPERATOR_ONLY, False,
              lambda w: {"charity": w.charity, "last": 6}),
    Operation("payOutPeriod", s.PAY_OUT_PERIOD, OPERATOR_ONLY, True, lambda w: {"key": "m1"},
              prepare=_closed_period, stripe=True),
    Operation("redeemCatalogueReward", s.REDEEM_CATALOGUE_REWARD, MEMBER_ONLY, True,
              lambda w: {"key": "m1"}, prepare=lambda w: s.catalogue_reward()),
    Operation("startMemberSignIn", s.START_MEMBER_SIGN_IN, None, True,
              lambda w: {"key": "m1", "email": w.member.email}),
    Operation("completeMemberSignIn", s.COMPLETE_MEMBER_SIGN_IN, None, True,
              lambda w: {"key": "m1"}, prepare=lambda w: s.member_sign_in_started(w.member)),
    Operation("myVouchers", s.MY_VOUCHERS_QUERY, MEMBER_ONLY, False, lambda w: {"first": 5}),
    Operation("cancelMyVoucher", s.CANCEL_MY_VOUCHER, MEMBER_ONLY, True,
              lambda w: {"key": "m1"}, prepare=lambda w: s.member_voucher(w.member)),
    Operation("myEmailChoices", s.MY_EMAIL_CHOICES_QUERY, MEMBER_ONLY, False, _none),
    Operation("updateMyEmailChoices", s.UPDATE_MY_EMAIL_CHOICES, MEMBER_ONLY, True,
              lambda w: {"key": "m1", "choices": [{"kind": "tier_changed", "enabled": False}]}),
)  # fmt: skip


def _assert_allowed(reply: s.Reply, operation: Operation) -> None:
    assert reply.status == 200, reply.body
    assert "errors" not in reply.body, reply.body
    result = reply.body["data"][operation.name]
    assert result is not None
    if operation.mutation:
        assert result["errors"] == [], result


def _assert_denied_in_graphql(reply: s.Reply, operation: Operation) -> None:
    assert reply.status == 200, reply.body
    if operation.mutation:
        payload = reply.body["data"][operation.name]
        assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
        assert all(v is None for k, v in payload.items() if k != "errors"), payload
    else:
        assert reply.graphql_codes == ["permission_denied"], reply.body
        assert (reply.body.get("data") or {}).get(operation.name) is None


def _assert_forbidden_by_host(reply: s.Reply) -> None:
    assert reply.status == 403, reply.body
    assert reply.graphql_codes == ["permission_denied"]
    assert "data" not in reply.body


@pytest.mark.parametrize("caller", s.PARTNER_HOST_CALLERS)
@pytest.mark.parametrize("operation", PARTNER_OPERATIONS, ids=str)
def test_partner_host_permission_matrix(
    db: None, partner_a: Partner, partner_b: Partner, operation: Operation, caller: str
) -> None:
    # given: alpha ready for every operation, and the caller's credential
    s.cover_every_partner_with_terms()  # the live position values every open event
    world = s.partner_world(partner_a)
    variables = {**operation.variables(world), **(operation.prepare or _none)(world)}
    token = s.caller_token(
        caller, own=partner_a, other=partner_b, scope=operation.scope, member=world.member
    )
    before = s.books(partner_a, partner_b)

    # when: the caller calls the operation on alpha's host
    reply = s.gql(s.HOST_A, operation.document, variables, token)

    # then: only the own key with the scope (or anyone, for open operations) acts
    if caller in {s.OTHER_PARTNER, s.MEMBER_TOKEN, s.OPERATOR}:
        _assert_forbidden_by_host(reply)
    elif caller == s.OWN_KEY or operation.scope is None:
        _assert_allowed(reply, operation)
        return
    else:
        _assert_denied_in_graphql(reply, operation)
    # and: a refused call changed nothing
    assert s.books(partner_a, partner_b) == before


@pytest.mark.parametrize("caller", s.COALITION_HOST_CALLERS)
@pytest.mark.parametrize("operation", COALITION_OPERATIONS, ids=str)
def test_coalition_host_permission_matrix(
    db: None, partner_a: Partner, partner_b: Partner, operation: Operation, caller: str
) -> None:
    # given: members, a household and a charity; the caller's credential
    world = s.coalition_world(partner_a)
    variables = {**operation.variables(world), **(operation.prepare or _none)(world)}
    token = s.caller_token(caller, own=partner_a, other=partner_b, scope=None, member=world.member)
    before = s.books(partner_a, partner_b)

    # when: the caller calls the operation on the coalition host (Stripe is the fake)
    with running_stripe_fake() if operation.stripe else nullcontext():
        reply = s.gql(s.PUBLIC_HOST, operation.document, variables, token)

    # then: partner keys never act here; members and the operator only on their own
    allowed = {None: {s.MEMBER_TOKEN, s.OPERATOR, s.ANONYMOUS},
               MEMBER_ONLY: {s.MEMBER_TOKEN}, OPERATOR_ONLY: {s.OPERATOR}}  # fmt: skip
    if caller == s.PARTNER_KEY:
        _assert_forbidden_by_host(reply)
    elif caller in allowed[operation.scope]:
        _assert_allowed(reply, operation)
        return
    else:
        _assert_denied_in_graphql(reply, operation)
    assert s.books(partner_a, partner_b) == before


def test_an_operator_key_always_carries_the_operator_scope(db: None) -> None:
    # given / when / then: a key without a partner must be an operator key, so an
    # "operator key missing its scope" cannot exist (the matrix needs no such row)
    from loyalty_graphql.auth import InvalidScopes, api_key_create

    with pytest.raises(InvalidScopes):
        api_key_create(name="no scope", scopes=["read"], partner=None)


def _root_fields(operations: tuple[Operation, ...]) -> set[str]:
    fields = set()
    for operation in operations:
        for definition in parse(operation.document).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            for selection in definition.selection_set.selections:
                assert isinstance(selection, FieldNode)
                fields.add(selection.name.value)  # the field, not its alias
    return fields


def test_the_matrix_covers_every_operation_of_both_schemas() -> None:
    # given / when: the root fields of each schema and those the matrix calls
    def operations_of(schema: Any) -> set[str]:
        graphql_schema = schema.graphql_schema
        roots = (graphql_schema.query_type, graphql_schema.mutation_type)
        return {name for root in roots if root is not None for name in root.fields}

    # then: a new operation cannot ship without its row in the matrix
    assert operations_of(partner_schema) == _root_fields(PARTNER_OPERATIONS)
    assert operations_of(coalition_schema) == _root_fields(COALITION_OPERATIONS)
