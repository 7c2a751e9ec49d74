"""The reward pages per role: every member of staff reads the list, owners and
managers create, edit, retire and restore rewards, another partner's staff and
anonymous visitors are sent to log in. A denied request changes nothing. Then
the pages themselves: errors next to their fields, one reward per double
submit, the list's states, filters and CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.catalogue.models import CatalogueEntry
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import Reward
from tests.testkit import in_partner
from tests.testkit.console import ALL_STAFF, ROLES, assert_page_answers_role, login_as

pytestmark = pytest.mark.django_db

CONFIGURERS = frozenset({"owner", "manager"})


def _state(partner: Partner) -> tuple[Any, ...]:
    with in_partner(partner):
        return (
            sorted(Reward.objects.values_list("id", "code", "name", "points_price", "stock",
                                              "is_active", "in_catalogue", "category")),
            sorted(CatalogueEntry.objects.values_list("id", "points_price", "is_active")),
            AuditEntry.objects.count(),
        )  # fmt: skip


def _nothing(partner: Partner) -> dict[str, Any]:
    return {}


def _reward(partner: Partner, *, retired: bool = False) -> dict[str, Any]:
    code = f"perm-{uuid4().hex[:6]}"
    with in_partner(partner):
        rewards.reward_create(code=code, name=f"Permission {code}", points_price=300, stock=4)
        if retired:
            rewards.reward_retire(code=code)
    return {"code": code}


def _retired(partner: Partner) -> dict[str, Any]:
    return _reward(partner, retired=True)


def new_reward(**overrides: str) -> dict[str, str]:
    form = {
        "code": f"coffee-{uuid4().hex[:6]}",
        "name": "Free coffee",
        "points_price": "150",
        "stock": "20",
        "per_member_limit": "1",
        "channels": "app",
        "voucher_validity_days": "30",
        "in_catalogue": "on",
        "category": "drinks",
        "request_key": uuid4().hex,
    }
    form.update(overrides)
    return form


def _edit_form() -> dict[str, str]:
    form = new_reward(name="Renamed", points_price="999")
    del form["code"]
    return form


Setup = Callable[[Partner], dict[str, Any]]
Request = Callable[[Client, dict[str, Any]], Any]

PAGES: dict[str, tuple[Setup, Request, frozenset[str]]] = {
    "rewards": (_reward, lambda c, a: c.get("/rewards/"), ALL_STAFF),
    "rewards (csv)": (_reward, lambda c, a: c.get("/rewards/?format=csv"), ALL_STAFF),
    "rewards (filtered)": (_reward, lambda c, a: c.get("/rewards/?state=active&q=perm"),
                           ALL_STAFF),
    "create reward (form)": (_nothing, lambda c, a: c.get("/rewards/new/"), CONFIGURERS),
    "create reward": (_nothing, lambda c, a: c.post("/rewards/new/", new_reward()), CONFIGURERS),
    "edit reward (form)": (_reward, lambda c, a: c.get(f"/rewards/{a['code']}/edit/"),
                           CONFIGURERS),
    "edit reward": (_reward, lambda c, a: c.post(f"/rewards/{a['code']}/edit/", _edit_form()),
                    CONFIGURERS),
    "retire reward (confirm)": (_reward, lambda c, a: c.get(f"/rewards/{a['code']}/retire/"),
                                CONFIGURERS),
    "retire reward": (_reward, lambda c, a: c.post(f"/rewards/{a['code']}/retire/"),
                      CONFIGURERS),
    "restore reward": (_retired, lambda c, a: c.post(f"/rewards/{a['code']}/restore/"),
                       CONFIGURERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_reward_page_answers_each_role(
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


def test_a_manager_of_alpha_cannot_touch_betas_rewards(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "manager", partner_b)
    code = _reward(partner_b)["code"]
    before = _state(partner_b)
    client.defaults["HTTP_HOST"] = f"{partner_b.slug}.localhost"
    retire = client.post(f"/rewards/{code}/retire/")
    edit = client.post(f"/rewards/{code}/edit/", _edit_form())
    assert retire.status_code == edit.status_code == 302
    assert retire["Location"].startswith("/login/")
    assert _state(partner_b) == before


def test_a_double_submit_creates_one_reward(partner_a: Partner, partner_b: Partner) -> None:
    client, user = login_as(partner_a, "manager", partner_b)
    form = new_reward()
    first = client.post("/rewards/new/", form)
    second = client.post("/rewards/new/", form)
    assert first.status_code == second.status_code == 302
    with in_partner(partner_a):
        reward = Reward.objects.get(request_key=f"console:{form['request_key']}")
        assert (reward.code, reward.points_price, reward.stock, reward.channels) == (
            form["code"], 150, 20, ["app"],
        )  # fmt: skip
        audit = AuditEntry.objects.get(action="reward.create", object_id=reward.code)
        assert audit.actor_id == user.pk


def test_errors_show_next_to_their_fields_and_change_nothing(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "owner", partner_b)
    before = _state(partner_a)
    form = new_reward(points_price="0", stock="-1", code="has space",
                      valid_from="2030-01-02T10:00", valid_until="2030-01-01T10:00")  # fmt: skip
    response = client.post("/rewards/new/", form)
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("points_price", "stock", "code", "valid_until"):
        assert f'id="id_{field}-error"' in html, field
    assert "There is a problem" in html
    assert _state(partner_a) == before
    # a code another reward has is refused next to the code
    taken = _reward(partner_a)["code"]
    before = _state(partner_a)
    response = client.post("/rewards/new/", new_reward(code=taken))
    assert response.status_code == 400
    assert "Another reward has this code" in response.content.decode()
    assert _state(partner_a) == before


def test_edit_retire_and_restore_from_the_pages(partner_a: Partner, partner_b: Partner) -> None:
    client, _user = login_as(partner_a, "manager", partner_b)
    code = _reward(partner_a)["code"]
    edit = client.get(f"/rewards/{code}/edit/").content.decode()
    assert 'value="300"' in edit  # the form starts from the reward's settings
    assert client.post(f"/rewards/{code}/edit/", _edit_form()).status_code == 302
    confirm = client.get(f"/rewards/{code}/retire/").content.decode()
    assert "Vouchers already issued stay valid" in confirm
    retired = client.post(f"/rewards/{code}/retire/", follow=True).content.decode()
    assert "is retired" in retired
    assert f"/rewards/{code}/restore/" in retired
    client.post(f"/rewards/{code}/restore/")
    with in_partner(partner_a):
        reward = Reward.objects.get(code=code)
        assert (reward.name, reward.points_price, reward.is_active) == ("Renamed", 999, True)
        assert list(
            AuditEntry.objects.filter(object_id=code)
            .order_by("id")
            .values_list("action", flat=True)
        ) == ["reward.create", "reward.update", "reward.retire", "reward.restore"]
    assert client.get("/rewards/no-such-reward/edit/").status_code == 404


def test_the_list_shows_state_stock_limit_and_exports_csv(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, _user = login_as(partner_a, "analyst", partner_b)
    code = _reward(partner_a)["code"]
    retired = _retired(partner_a)["code"]
    html = client.get(f"/rewards/?q={code}").content.decode()
    assert f"Permission {code}" in html
    assert "Active" in html
    assert "300 points" in html
    assert "Every channel" in html
    assert retired not in html
    # the analyst reads, but sees no buttons to change anything
    assert f"/rewards/{code}/retire/" not in html
    assert "Create a reward" not in html
    only_retired = client.get("/rewards/?state=retired&q=perm-").content.decode()
    assert retired in only_retired
    assert f"Permission {code}" not in only_retired
    csv = b"".join(client.get(f"/rewards/?format=csv&q={code}").streaming_content).decode()
    assert csv.splitlines()[0].startswith("code,name,category,state,points_price,stock_left")
    assert f"{code},Permission {code},,active,300,4,," in csv
