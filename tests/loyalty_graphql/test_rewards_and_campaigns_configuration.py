"""A partner app configures rewards and runs campaigns over GraphQL, as staff do
on the console's reward and campaign pages: create, update, retire and restore a
reward; list, create, pause, resume and end a campaign. Typed errors change
nothing, a repeated idempotency key answers the first answer and does the work
once, and reading campaigns costs the same statements for 2 campaigns as for 12.
(Permissions across tenants, roles and scopes: ``test_permissions.py``.)"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.catalogue.models import CatalogueEntry
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning import services as earning
from tenants.earning.models import Campaign, CampaignBudgetBucket
from tenants.partners.models import Partner
from tenants.rewards.models import Reward
from tests.testkit import api as s
from tests.testkit import in_partner


def _payload(reply: s.Reply, name: str) -> Any:
    payload = reply.payload(name)
    assert payload["errors"] == [], payload
    return payload


def test_a_partner_app_creates_changes_retires_and_restores_a_reward(
    db: None, partner_a: Partner
) -> None:
    key = s.partner_key(partner_a)
    until = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    # when: a reward is created with stock, limit, channels, category and validity
    created = _payload(s.gql(s.HOST_A, s.CREATE_REWARD, {
        "key": "c1", "code": "api-coffee", "name": "Api coffee", "price": 150, "stock": 20,
        "limit": 1, "validUntil": until.isoformat(), "channels": ["pos", "app", "pos"],
        "category": "drinks"}, key), "createReward")["reward"]  # fmt: skip
    # then: it reads back as set, active, in the catalogue
    assert created == {
        "code": "api-coffee", "name": "Api coffee", "description": "", "category": "drinks",
        "pointsPrice": 150, "stock": 20, "perMemberLimit": 1, "validFrom": None,
        "validUntil": until.isoformat(), "channels": ["app", "pos"],
        "voucherValidityDays": 90, "inCatalogue": True, "state": "active",
    }  # fmt: skip
    # when: its price changes, its stock limit is removed (null) and it leaves the catalogue
    updated = _payload(s.gql(s.HOST_A, s.UPDATE_REWARD, {
        "key": "u1", "code": "api-coffee", "price": 175, "stock": None, "inCatalogue": False},
        key), "updateReward")["reward"]  # fmt: skip
    # then: what was left out stays as it was
    assert (updated["pointsPrice"], updated["stock"], updated["inCatalogue"]) == (175, None, False)
    assert (updated["name"], updated["perMemberLimit"], updated["channels"]) == (
        "Api coffee", 1, ["app", "pos"],
    )  # fmt: skip
    retired = _payload(
        s.gql(s.HOST_A, s.RETIRE_REWARD, {"key": "r1", "code": "api-coffee"}, key), "retireReward"
    )["reward"]
    assert retired["state"] == "retired"
    restored = _payload(
        s.gql(s.HOST_A, s.RESTORE_REWARD, {"key": "r2", "code": "api-coffee"}, key),
        "restoreReward",
    )["reward"]
    assert restored["state"] == "active"
    # and: the catalogue follows, and every change is audited by the key
    with in_partner(partner_a):
        reward = Reward.objects.get(code="api-coffee")
        entry = CatalogueEntry.objects.get(partner=partner_a, reward_id=reward.pk)
        assert (entry.points_price, entry.in_catalogue, entry.is_active) == (175, False, True)
    use_public_schema()
    actions = list(
        AuditEntry.objects.filter(partner_id=partner_a.pk, object_id="api-coffee")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert [action for action, _label in actions] == [
        "reward.create", "reward.update", "reward.retire", "reward.restore",
    ]  # fmt: skip
    assert all(label.startswith("API key") for _action, label in actions)


def test_a_partner_app_runs_a_campaign(db: None, partner_a: Partner) -> None:
    key = s.partner_key(partner_a)
    now = timezone.now().replace(microsecond=0)
    created = _payload(s.gql(s.HOST_A, s.CREATE_CAMPAIGN, {
        "key": "c1", "name": "Api double", "kind": "multiplier",
        "params": json.dumps({"multiplier": "2"}),
        "startsAt": (now - timedelta(hours=1)).isoformat(),
        "endsAt": (now + timedelta(days=7)).isoformat(), "budget": 5000}, key),
        "createCampaign")["campaign"]  # fmt: skip
    assert (created["name"], created["kind"], created["state"]) == (
        "Api double",
        "multiplier",
        "running",
    )
    assert json.loads(created["params"]) == {"multiplier": "2"}
    assert (created["budgetPoints"], created["issuedPoints"]) == (5000, 0)
    campaign = created["id"]
    # the list shows it, and filters by state
    listed = s.gql(s.HOST_A, s.CAMPAIGNS_QUERY, {"state": "running"}, key).payload("campaigns")
    assert [c["id"] for c in listed] == [campaign]
    assert s.gql(s.HOST_A, s.CAMPAIGNS_QUERY, {"state": "paused"}, key).payload("campaigns") == []
    paused = _payload(s.gql(s.HOST_A, s.PAUSE_CAMPAIGN, {"key": "p1", "campaign": campaign}, key),
                      "pauseCampaign")["campaign"]  # fmt: skip
    assert paused["state"] == "paused"
    resumed = _payload(s.gql(s.HOST_A, s.RESUME_CAMPAIGN, {"key": "p2", "campaign": campaign},
                             key), "resumeCampaign")["campaign"]  # fmt: skip
    assert resumed["state"] == "running"
    ended = _payload(s.gql(s.HOST_A, s.END_CAMPAIGN, {"key": "p3", "campaign": campaign}, key),
                     "endCampaign")["campaign"]  # fmt: skip
    assert ended["state"] == "ended"
    with in_partner(partner_a):
        made = Campaign.objects.get(pk=int(campaign))
        assert made.status == "ended"
        assert CampaignBudgetBucket.objects.filter(campaign_id=made.pk).exists()
    use_public_schema()
    actions = set(
        AuditEntry.objects.filter(
            partner_id=partner_a.pk, actor_label__startswith="API key"
        ).values_list("action", flat=True)
    )
    assert actions >= {"campaigns.create", "campaigns.pause", "campaigns.resume", "campaigns.end"}


def test_typed_errors_change_nothing(db: None, partner_a: Partner) -> None:
    key = s.partner_key(partner_a)
    s.gql(s.HOST_A, s.CREATE_REWARD, {"key": "setup", "code": "taken", "name": "Taken",
                                       "price": 10}, key)  # fmt: skip
    now = timezone.now()
    with in_partner(partner_a):
        ended = earning.campaign_create(
            name="Over", kind="bonus", params={"points": 5},
            starts_at=now - timedelta(days=2), ends_at=now + timedelta(days=2),
        )  # fmt: skip
        earning.campaign_end(campaign_id=ended.pk)
    use_public_schema()
    before = s.books(partner_a)
    later, sooner = (now + timedelta(days=2)).isoformat(), (now + timedelta(days=1)).isoformat()
    cases = [
        (s.CREATE_REWARD, "createReward", {"code": "taken", "name": "Again", "price": 10},
         "REWARD_CODE_TAKEN", "code"),
        (s.CREATE_REWARD, "createReward", {"code": "free", "name": "Free", "price": 0},
         "INVALID_REWARD", "points_price"),
        (s.CREATE_REWARD, "createReward", {"code": "neg", "name": "Neg", "price": 5, "stock": -1},
         "INVALID_REWARD", "stock"),
        (s.CREATE_REWARD, "createReward", {"code": "fax", "name": "Fax", "price": 5,
                                           "channels": ["fax"]}, "INVALID_REWARD", "channels"),
        (s.CREATE_REWARD, "createReward", {"code": "when", "name": "When", "price": 5,
                                           "validFrom": later, "validUntil": sooner},
         "INVALID_REWARD", "valid_until"),
        (s.UPDATE_REWARD, "updateReward", {"code": "nope", "price": 5}, "UNKNOWN_REWARD",
         "reward"),
        (s.UPDATE_REWARD, "updateReward", {"code": "taken", "price": -3}, "INVALID_REWARD",
         "points_price"),
        (s.RETIRE_REWARD, "retireReward", {"code": "nope"}, "UNKNOWN_REWARD", "reward"),
        (s.CREATE_CAMPAIGN, "createCampaign", {"name": "Bad", "kind": "multiplier",
                                               "params": "{}", "startsAt": sooner,
                                               "endsAt": later}, "INVALID_RULE", None),
        (s.CREATE_CAMPAIGN, "createCampaign", {"name": "Back", "kind": "bonus",
                                               "params": '{"points": 5}', "startsAt": later,
                                               "endsAt": sooner}, "INVALID_RULE", None),
        (s.PAUSE_CAMPAIGN, "pauseCampaign", {"campaign": "999999"}, "UNKNOWN_CAMPAIGN", None),
        (s.RESUME_CAMPAIGN, "resumeCampaign", {"campaign": str(ended.pk)}, "CAMPAIGN_ENDED",
         None),
        (s.END_CAMPAIGN, "endCampaign", {"campaign": "not-a-number"}, "UNKNOWN_CAMPAIGN", None),
    ]  # fmt: skip
    for index, (document, name, variables, code, field) in enumerate(cases):
        # when: each bad request is sent
        reply = s.gql(s.HOST_A, document, {"key": f"bad-{index}", **variables}, key)
        # then: its typed code (and the field it names), and nothing changed
        assert reply.codes(name) == [code], (name, reply.body)
        if field is not None:
            assert reply.payload(name)["errors"][0]["field"] == field, reply.body
        result = "reward" if name.endswith("Reward") else "campaign"
        assert reply.payload(name)[result] is None
    assert s.books(partner_a) == before


def test_a_repeated_key_answers_the_first_answer_and_acts_once(
    db: None, partner_a: Partner
) -> None:
    key = s.partner_key(partner_a)
    variables = {"key": "same", "code": "once", "name": "Once", "price": 10,
                 "channels": ["pos", "app"]}  # fmt: skip
    first = s.gql(s.HOST_A, s.CREATE_REWARD, variables, key).payload("createReward")
    # the same request again, channels in another order: the same answer
    again = s.gql(s.HOST_A, s.CREATE_REWARD, {**variables, "channels": ["app", "pos"]}, key)
    assert again.payload("createReward") == first
    # the same key for another request is refused
    other = s.gql(s.HOST_A, s.CREATE_REWARD, {**variables, "price": 11}, key)
    assert other.codes("createReward") == ["IDEMPOTENCY_KEY_REUSED"]
    now = timezone.now()
    campaign = {"key": "camp", "name": "Once", "kind": "bonus", "params": '{"points": 5}',
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(days=1)).isoformat()}  # fmt: skip
    made = s.gql(s.HOST_A, s.CREATE_CAMPAIGN, campaign, key).payload("createCampaign")
    assert s.gql(s.HOST_A, s.CREATE_CAMPAIGN, campaign, key).payload("createCampaign") == made
    with in_partner(partner_a):
        assert Reward.objects.filter(code="once").count() == 1
        assert Campaign.objects.filter(name="Once").count() == 1
    use_public_schema()
    assert AuditEntry.objects.filter(action="reward.create", object_id="once").count() == 1


def test_reading_campaigns_costs_the_same_for_2_and_12_campaigns(
    db: None, partner_a: Partner
) -> None:
    key = s.partner_key(partner_a)
    s.gql(s.HOST_A, s.CAMPAIGNS_QUERY, {}, key)  # the key's first use is noted

    def add(count: int) -> None:
        now = timezone.now()
        with in_partner(partner_a):
            for index in range(count):
                earning.campaign_create(
                    name=f"Cost {index}", kind="bonus", params={"points": 5},
                    starts_at=now, ends_at=now + timedelta(days=1),
                    budget_points=100 if index % 2 else None,
                )  # fmt: skip
        use_public_schema()

    def statements() -> int:
        with CaptureQueriesContext(connection) as captured:
            reply = s.gql(s.HOST_A, s.CAMPAIGNS_QUERY, {"first": 50}, key)
        assert reply.payload("campaigns") is not None
        return len(captured.captured_queries)

    add(2)
    few = statements()
    add(10)
    assert statements() == few
