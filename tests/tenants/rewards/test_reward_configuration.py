"""Staff configure rewards: create (once per request key, never over another
reward's code), change, retire and restore, each change audited with before and
after; every rule a reward keeps is a typed error naming its field; the
coalition catalogue follows, and shows only rewards offered in it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.catalogue.models import CatalogueEntry
from coalition.catalogue.selectors import catalogue_available
from coalition.ledger import services as ledger
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tenants.rewards import selectors as reward_selectors
from tenants.rewards import services as rewards
from tenants.rewards.errors import (
    InvalidReward,
    RewardCodeTaken,
    RewardUnavailable,
    UnknownReward,
)
from tenants.rewards.models import Reward
from tenants.rewards.self_service import member_reward_redeem
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db


def _create(**overrides: Any) -> Reward:
    arguments: dict[str, Any] = {
        "code": f"r-{uuid4().hex[:8]}",
        "name": "Free coffee",
        "points_price": 200,
    }
    arguments.update(overrides)
    return rewards.reward_create(**arguments)


def test_create_keeps_every_setting_audits_and_lists_in_the_catalogue(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        reward = _create(
            name="  Cinema ticket ", category="leisure", stock=10, per_member_limit=2,
            valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=30),
            channels=["pos", "app", "pos"], voucher_validity_days=30, description="Any film",
        )  # fmt: skip
        reward.refresh_from_db()
        assert (reward.name, reward.category, reward.channels) == (
            "Cinema ticket", "leisure", ["app", "pos"],
        )  # fmt: skip
        assert (reward.stock, reward.per_member_limit, reward.voucher_validity_days) == (10, 2, 30)
        audit = AuditEntry.objects.get(action="reward.create", object_id=reward.code)
        assert audit.before is None
        assert audit.after["points_price"] == 200
        entry = CatalogueEntry.objects.get(partner=partner_a, reward_id=reward.pk)
        assert (entry.category, entry.in_catalogue, entry.channels) == (
            "leisure",
            True,
            reward.channels,
        )
    assert catalogue_available(category="LEISURE").filter(pk=entry.pk).exists()
    assert not catalogue_available(category="travel").filter(pk=entry.pk).exists()


def test_a_repeated_request_key_creates_one_reward_and_a_taken_code_is_refused(
    partner_a: Partner,
) -> None:
    with in_partner(partner_a):
        first = _create(code="coffee", request_key="form-1")
        again = _create(code="coffee", request_key="form-1")
        assert again.pk == first.pk
        assert Reward.objects.filter(code="coffee").count() == 1
        with pytest.raises(RewardCodeTaken) as taken:
            _create(code="coffee", request_key="form-2")
        assert (taken.value.code, taken.value.field) == ("reward_code_taken", "code")
        assert AuditEntry.objects.filter(action="reward.create", object_id="coffee").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"points_price": 0}, "points_price"),
        ({"stock": -1}, "stock"),
        ({"per_member_limit": 0}, "per_member_limit"),
        ({"channels": ["pos", "fax"]}, "channels"),
        ({"name": "  "}, "name"),
        ({"code": "no spaces"}, "code"),
        ({"voucher_validity_days": 0}, "voucher_validity_days"),
        ({"category": "x" * 61}, "category"),
        ({"valid_until": "from"}, "valid_until"),
    ],
)
def test_each_rule_is_a_typed_error_naming_its_field(
    partner_a: Partner, overrides: dict[str, Any], field: str
) -> None:
    now = timezone.now()
    if overrides.get("valid_until") == "from":
        overrides = {"valid_from": now, "valid_until": now - timedelta(minutes=1)}
    with in_partner(partner_a):
        before = (Reward.objects.count(), CatalogueEntry.objects.count())
        with pytest.raises(InvalidReward) as error:
            _create(**overrides)
        assert (error.value.code, error.value.field) == ("invalid_reward", field)
        # and an update breaking the same rule changes nothing either
        reward = _create()
        changes = {k: v for k, v in overrides.items() if k != "code"}
        if changes:
            with pytest.raises(InvalidReward):
                rewards.reward_update(code=reward.code, **changes)
            reward.refresh_from_db()
            assert reward.points_price == 200
        assert Reward.objects.count() == before[0] + 1


def test_update_changes_only_what_is_given_and_audits_before_and_after(
    partner_a: Partner,
) -> None:
    with in_partner(partner_a):
        reward = _create(stock=5, category="drinks")
        rewards.reward_update(code=reward.code, points_price=250, stock=None, in_catalogue=False)
        reward.refresh_from_db()
        assert (reward.points_price, reward.stock, reward.category) == (250, None, "drinks")
        audit = AuditEntry.objects.get(action="reward.update", object_id=reward.code)
        assert (audit.before["points_price"], audit.after["points_price"]) == (200, 250)
        assert (audit.before["in_catalogue"], audit.after["in_catalogue"]) == (True, False)
        # the same values again change nothing and write no audit row
        rewards.reward_update(code=reward.code, points_price=250)
        assert AuditEntry.objects.filter(action="reward.update", object_id=reward.code).count() == 1
        entry = CatalogueEntry.objects.get(partner=partner_a, reward_id=reward.pk)
        assert (entry.points_price, entry.in_catalogue) == (250, False)
        with pytest.raises(UnknownReward):
            rewards.reward_update(code="no-such-reward", name="x")
    assert not catalogue_available().filter(pk=entry.pk).exists()


def test_retire_and_restore_are_audited_once_and_the_catalogue_follows(
    partner_a: Partner,
) -> None:
    with in_partner(partner_a):
        reward = _create()
        rewards.reward_retire(code=reward.code)
        rewards.reward_retire(code=reward.code)  # a second press changes nothing
        entry = CatalogueEntry.objects.get(partner=partner_a, reward_id=reward.pk)
        assert entry.is_active is False
        assert [s.state for s in reward_selectors.reward_summaries(
            now=timezone.now(), search=reward.code)] == ["retired"]  # fmt: skip
        rewards.reward_restore(code=reward.code)
        entry.refresh_from_db()
        assert entry.is_active is True
        actions = list(
            AuditEntry.objects.filter(object_id=reward.code)
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == ["reward.create", "reward.retire", "reward.restore"]


def test_a_reward_kept_out_of_the_catalogue_is_redeemable_at_the_partner_only(
    partner_a: Partner,
) -> None:
    member = member_enrol(email=f"kept-{uuid4().hex[:6]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    with in_partner(partner_a):
        reward = _create(in_catalogue=False)
    assert not catalogue_available(search="Free coffee").filter(reward_id=reward.pk).exists()
    # the member cannot redeem it from the portal or the member apps
    with pytest.raises(RewardUnavailable):
        member_reward_redeem(
            member_id=member.pk, partner_slug=partner_a.slug, reward_code=reward.code
        )
    # the partner's own till can
    with in_partner(partner_a):
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code=reward.code, channel="pos")
    assert voucher.points == 200


def test_states_and_vouchers_issued_in_one_list(partner_a: Partner) -> None:
    now = timezone.now()
    member = member_enrol(email=f"states-{uuid4().hex[:6]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=1000)
    tag = uuid4().hex[:6]
    with in_partner(partner_a):
        active = _create(code=f"{tag}-active", stock=2)
        _create(code=f"{tag}-later", valid_from=now + timedelta(days=1))
        _create(code=f"{tag}-over", valid_from=now - timedelta(days=2),
                valid_until=now - timedelta(days=1))  # fmt: skip
        _create(code=f"{tag}-empty", stock=0)
        retired = _create(code=f"{tag}-retired")
        rewards.reward_retire(code=retired.code)
        rewards.reward_redeem(member_id=member.pk, reward_code=active.code)
        summaries = reward_selectors.reward_summaries(now=now, search=tag)
        assert [(s.reward.code, s.state, s.vouchers_issued) for s in summaries] == [
            (f"{tag}-retired", "retired", 0),
            (f"{tag}-empty", "out_of_stock", 0),
            (f"{tag}-over", "expired", 0),
            (f"{tag}-later", "not_yet_valid", 0),
            (f"{tag}-active", "active", 1),
        ]
        for state in reward_selectors.REWARD_STATES:
            filtered = reward_selectors.reward_summaries(now=now, search=tag, state=state)
            assert [s.state for s in filtered] == [state]
