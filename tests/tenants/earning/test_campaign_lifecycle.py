"""A campaign's life as staff run it: pausing stops it earning, resuming restores
it, an ended campaign cannot resume, each change is audited once, the budget
consumption staff see equals the points the campaign issued, and a repeated
create request (the same idempotency key) creates one campaign."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.audit.models import AuditEntry
from tenants.earning import services as earning
from tenants.earning.errors import CampaignEnded, InvalidRule, UnknownCampaign
from tenants.earning.models import Campaign
from tenants.earning.selectors import campaign_issued_points, campaign_summaries
from tenants.partners.models import Partner
from tenants.purchases.services import ReceiptLine, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import new_member, publish, receipt

pytestmark = pytest.mark.django_db


def _bonus(now, **extra):  # type: ignore[no-untyped-def]
    return earning.campaign_create(
        name="Bonus week", kind="bonus", params={"points": 50},
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7), **extra,
    )  # fmt: skip


def _campaign_points(now) -> int:  # type: ignore[no-untyped-def]
    return purchase_record(
        receipt(new_member().pk, now, ReceiptLine("A", "food", 1, 1000)), now=now
    ).campaign_points


def test_pausing_stops_earning_and_resuming_restores_it(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = _bonus(now)
        # given a running bonus campaign, a purchase gets its bonus
        assert _campaign_points(now) == 50
        # when staff pause it, a purchase gets none
        earning.campaign_pause(campaign_id=campaign.pk, now=now)
        assert _campaign_points(now) == 0
        # and when they resume it, purchases get the bonus again
        earning.campaign_resume(campaign_id=campaign.pk, now=now)
        assert _campaign_points(now) == 50


def test_an_ended_campaign_cannot_resume_or_pause(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = _bonus(now)
        ended = earning.campaign_end(campaign_id=campaign.pk, now=now)
        assert ended.status == "ended"
        assert ended.ended_at == now
        # then it earns nothing, cannot resume or pause, and ending again changes nothing
        assert _campaign_points(now) == 0
        with pytest.raises(CampaignEnded):
            earning.campaign_resume(campaign_id=campaign.pk, now=now)
        with pytest.raises(CampaignEnded):
            earning.campaign_pause(campaign_id=campaign.pk, now=now)
        assert earning.campaign_end(campaign_id=campaign.pk, now=now).ended_at == now
        assert Campaign.objects.get(pk=campaign.pk).status == "ended"


def test_a_campaign_past_its_end_cannot_resume(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        campaign = _bonus(now)
        earning.campaign_pause(campaign_id=campaign.pk, now=now)
        with pytest.raises(CampaignEnded):
            earning.campaign_resume(campaign_id=campaign.pk, now=now + timedelta(days=8))
        assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_each_change_is_audited_once_and_repeats_change_nothing(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        campaign = _bonus(now, actor="API key 7")
        earning.campaign_pause(campaign_id=campaign.pk, now=now, actor="API key 7")
        earning.campaign_pause(campaign_id=campaign.pk, now=now, actor="API key 7")
        earning.campaign_resume(campaign_id=campaign.pk, now=now)
        earning.campaign_resume(campaign_id=campaign.pk, now=now)
        earning.campaign_end(campaign_id=campaign.pk, now=now)
        earning.campaign_end(campaign_id=campaign.pk, now=now)
    entries = AuditEntry.objects.filter(object_type="campaign", object_id=str(campaign.pk))
    actions = list(entries.order_by("id").values_list("action", flat=True))
    assert actions == ["campaigns.create", "campaigns.pause", "campaigns.resume", "campaigns.end"]
    pause = entries.get(action="campaigns.pause")
    assert pause.actor_label == "API key 7"
    assert pause.before["status"] == "active"
    assert pause.after["status"] == "paused"


def test_unknown_campaign_is_a_typed_error(partner_a: Partner) -> None:
    with in_partner(partner_a), pytest.raises(UnknownCampaign):
        earning.campaign_pause(campaign_id=999_999_999)


def test_the_same_request_key_creates_one_campaign(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        first = _bonus(now, request_key="console:abc123")
        second = _bonus(now, request_key="console:abc123")
        assert first.pk == second.pk
        assert Campaign.objects.filter(request_key="console:abc123").count() == 1


def test_bad_campaigns_are_refused_and_change_nothing(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        count = Campaign.objects.count()
        with pytest.raises(InvalidRule) as no_name:
            earning.campaign_create(
                name=" ", kind="bonus", params={"points": 5},
                starts_at=now, ends_at=now + timedelta(hours=1),
            )  # fmt: skip
        assert no_name.value.field == "name"
        with pytest.raises(InvalidRule) as backwards:
            earning.campaign_create(
                name="x", kind="bonus", params={"points": 5},
                starts_at=now, ends_at=now - timedelta(hours=1),
            )  # fmt: skip
        assert backwards.value.field == "ends_at"
        with pytest.raises(InvalidRule) as negative:
            _bonus(now, budget_points=-1)
        assert negative.value.field == "budget_points"
        assert Campaign.objects.count() == count


def test_consumption_shown_equals_the_points_issued(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        campaign = _bonus(now, budget_points=120)
        # when three purchases want 50 each from a 120-point budget
        given = [_campaign_points(now) for _ in range(3)]
        summary = next(s for s in campaign_summaries(now=now) if s.campaign.pk == campaign.pk)
        # then staff see exactly what was issued, and what is left
        assert given == [50, 50, 20]
        assert summary.issued == campaign_issued_points(campaign.pk) == 120
        assert summary.left == 0
        assert summary.percent_used == 100
        assert summary.state == "running"


def test_states_staff_see(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        later = earning.campaign_create(
            name="Later", kind="bonus", params={"points": 5},
            starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2),
        )  # fmt: skip
        paused = _bonus(now)
        earning.campaign_pause(campaign_id=paused.pk, now=now)
        states = {s.campaign.pk: s.state for s in campaign_summaries(now=now)}
        assert states[later.pk] == "scheduled"
        assert states[paused.pk] == "paused"
        only_paused = {s.campaign.pk for s in campaign_summaries(now=now, state="paused")}
        assert paused.pk in only_paused
        assert later.pk not in only_paused
