"""The campaign pages per role: every member of staff reads the list, owners and
managers create, pause, resume and end campaigns, another partner's staff and
anonymous visitors are sent to log in. A denied request changes nothing. Then
the pages themselves: errors next to their fields, one campaign per double
submit, the live budget consumption."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client
from django.utils import timezone

from coalition.audit.models import AuditEntry
from tenants.earning import services as earning
from tenants.earning.models import Campaign, CampaignBudgetBucket
from tenants.partners.models import Partner
from tests.testkit import in_partner
from tests.testkit.console import ALL_STAFF, ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

CONFIGURERS = frozenset({"owner", "manager"})


def _state(partner: Partner) -> tuple[Any, ...]:
    with in_partner(partner):
        return (
            sorted(Campaign.objects.values_list("id", "name", "kind", "params", "status")),
            sorted(Campaign.objects.values_list("id", "starts_at", "ends_at", "budget_points")),
            sorted(CampaignBudgetBucket.objects.values_list("campaign_id", "bucket", "issued")),
            AuditEntry.objects.count(),
        )


def _nothing(partner: Partner) -> dict[str, Any]:
    return {}


def _campaign(partner: Partner, status: str = "active") -> dict[str, Any]:
    now = timezone.now()
    with in_partner(partner):
        campaign = earning.campaign_create(
            name=f"Permission {uuid4().hex[:6]}", kind="bonus", params={"points": 10},
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3),
            budget_points=1000,
        )  # fmt: skip
        if status == "paused":
            earning.campaign_pause(campaign_id=campaign.pk)
    return {"id": campaign.pk}


def _paused(partner: Partner) -> dict[str, Any]:
    return _campaign(partner, "paused")


def new_campaign() -> dict[str, str]:
    start = timezone.localtime(timezone.now()).replace(tzinfo=None)
    return {
        "name": "Double points",
        "kind": "multiplier",
        "multiplier": "2",
        "starts_at": f"{start:%Y-%m-%dT%H:%M}",
        "ends_at": f"{start + timedelta(days=7):%Y-%m-%dT%H:%M}",
        "budget_points": "5000",
        "request_key": uuid4().hex,
    }


Setup = Callable[[Partner], dict[str, Any]]
Request = Callable[[Client, dict[str, Any]], Any]

PAGES: dict[str, tuple[Setup, Request, frozenset[str]]] = {
    "campaigns": (_campaign, lambda c, a: c.get("/campaigns/"), ALL_STAFF),
    "campaigns (csv)": (_campaign, lambda c, a: c.get("/campaigns/?format=csv"), ALL_STAFF),
    "campaigns (filtered)": (_campaign, lambda c, a: c.get("/campaigns/?state=running"),
                             ALL_STAFF),
    "create campaign (form)": (_nothing, lambda c, a: c.get("/campaigns/new/"), CONFIGURERS),
    "create campaign": (_nothing, lambda c, a: c.post("/campaigns/new/", new_campaign()),
                        CONFIGURERS),
    "pause campaign": (_campaign, lambda c, a: c.post(f"/campaigns/{a['id']}/pause/"),
                       CONFIGURERS),
    "resume campaign": (_paused, lambda c, a: c.post(f"/campaigns/{a['id']}/resume/"),
                        CONFIGURERS),
    "end campaign (confirm)": (_campaign, lambda c, a: c.get(f"/campaigns/{a['id']}/end/"),
                               CONFIGURERS),
    "end campaign": (_campaign, lambda c, a: c.post(f"/campaigns/{a['id']}/end/"), CONFIGURERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_campaign_page_answers_each_role(
    partner_a: Partner, partner_b: Partner, page: str, role: str
) -> None:
    setup, request, allowed = PAGES[page]
    # given someone in this role and whatever the page acts on, when they open the page or press
    # its button: staff with the capability get it, and everyone else is refused; a refusal
    # changes nothing
    assert_page_answers_role(
        partner_a,
        partner_b,
        role=role,
        page=page,
        allowed=allowed,
        setup=setup,
        request=request,
        state=lambda _arguments: _state(partner_a),
    )


def test_a_manager_of_alpha_cannot_touch_betas_campaigns(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a manager signed in at alpha and a campaign at beta
    client, _user = login_as(partner_a, "manager", partner_b)
    campaign_id = _campaign(partner_b)["id"]
    before = _state(partner_b)
    # when the session is sent to beta's host
    client.defaults["HTTP_HOST"] = f"{partner_b.slug}.localhost"
    pause = client.post(f"/campaigns/{campaign_id}/pause/")
    end = client.post(f"/campaigns/{campaign_id}/end/")
    # then beta asks for a log-in and nothing changed there
    assert pause.status_code == end.status_code == 302
    assert pause["Location"].startswith("/login/")
    assert _state(partner_b) == before


def test_a_double_submit_creates_one_campaign(partner_a: Partner, partner_b: Partner) -> None:
    client, _user = login_as(partner_a, "manager", partner_b)
    form = new_campaign()
    first = client.post("/campaigns/new/", form)
    second = client.post("/campaigns/new/", form)
    assert first.status_code == second.status_code == 302
    with in_partner(partner_a):
        assert Campaign.objects.filter(request_key=f"console:{form['request_key']}").count() == 1
        campaign = Campaign.objects.get(request_key=f"console:{form['request_key']}")
        assert campaign.params == {"multiplier": "2"}
        assert campaign.budget_points == 5000
        assert CampaignBudgetBucket.objects.filter(campaign_id=campaign.pk).count() == 16


def test_errors_show_next_to_their_fields_and_change_nothing(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "owner", partner_b)
    before = _state(partner_a)
    form = {**new_campaign(), "multiplier": "", "budget_points": "-5"}
    form["ends_at"] = form["starts_at"]
    response = client.post("/campaigns/new/", form)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_multiplier-error"' in html
    assert 'id="id_budget_points-error"' in html
    assert 'id="id_ends_at-error"' in html
    assert "There is a problem" in html
    assert _state(partner_a) == before
    # a category multiplier needs its category
    response = client.post(
        "/campaigns/new/", {**new_campaign(), "kind": "category_multiplier", "category": ""}
    )
    assert 'id="id_category-error"' in response.content.decode()
    assert _state(partner_a) == before


def test_the_list_shows_state_window_and_live_consumption(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "analyst", partner_b)
    campaign_id = _campaign(partner_a)["id"]
    with in_partner(partner_a):
        CampaignBudgetBucket.objects.filter(campaign_id=campaign_id, bucket=0).update(issued=40)
        name = Campaign.objects.get(pk=campaign_id).name
    html = client.get("/campaigns/").content.decode()
    assert name in html
    assert 'value="40"' in html  # the progress bar of the budget
    assert "40 of 1,000 points (4%)" in html
    assert "Running" in html
    # the analyst reads, but sees no buttons to change anything
    assert f"/campaigns/{campaign_id}/pause/" not in html
    csv = b"".join(client.get("/campaigns/?format=csv").streaming_content).decode()
    assert f"{campaign_id},{name},bonus,running" in csv


def test_ending_from_the_confirm_page_is_final(partner_a: Partner, partner_b: Partner) -> None:
    client, _user = login_as(partner_a, "manager", partner_b)
    campaign_id = _campaign(partner_a)["id"]
    confirm = client.get(f"/campaigns/{campaign_id}/end/")
    assert "Ending is final" in confirm.content.decode()
    client.post(f"/campaigns/{campaign_id}/end/")
    resumed = client.post(f"/campaigns/{campaign_id}/resume/", follow=True)
    assert "has ended and cannot resume" in resumed.content.decode()
    with in_partner(partner_a):
        assert Campaign.objects.get(pk=campaign_id).status == "ended"
