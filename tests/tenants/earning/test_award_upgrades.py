"""Upgrades after a behaviour award or a referral (tiers.upgrades.tier_upgrade_after_earn):
one check statement in the request, the upgrade itself a job when a broker is
configured, and never an error for points that were awarded."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import override_settings

from coalition.ledger import selectors as ledger_selectors
from coalition.tiers import services as tier_services
from coalition.tiers import upgrades
from coalition.tiers.models import TierLevel
from coalition.tiers.selectors import tier_code_of
from tenants.earning import services as earning
from tenants.earning.models import BehaviourRule
from tenants.partners.models import Partner
from tests.testkit import in_partner
from tests.testkit.earning import new_member


@pytest.fixture
def levels(db: None) -> None:
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=100)


def _award(partner: Partner, points: int) -> tuple[int, earning.AwardResult]:
    member = new_member("award")
    with in_partner(partner):
        BehaviourRule.objects.get_or_create(
            event="newsletter", defaults={"points": points, "max_awards": 5}
        )
        return member.pk, earning.behaviour_award(member_id=member.pk, event="newsletter")


def test_without_a_broker_an_award_upgrades_at_once(levels: None, partner_a: Partner) -> None:
    member_id, result = _award(partner_a, 150)
    assert result.points == 150
    assert tier_code_of(member_id) == "silver"


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_with_a_broker_an_award_publishes_the_upgrade_after_its_commit(
    levels: None, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    published: list[tuple[Any, ...]] = []

    def send_now(*args: Any) -> bool:
        published.append(args)
        return True

    with (
        mock.patch.object(upgrades.jobs, "send_now", side_effect=send_now),
        django_capture_on_commit_callbacks(execute=True),
    ):
        member_id, _ = _award(partner_a, 150)
    assert [(task, member) for task, member, _ in published] == [(upgrades.evaluate, member_id)]
    assert tier_code_of(member_id) is None  # the worker's job, not the request's
    upgrades.evaluate(*published[0][1:])
    assert tier_code_of(member_id) == "silver"


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_an_award_below_every_new_level_publishes_nothing(
    levels: None, partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # the member joins blue on a first earn: that is due, so give them blue first
    with mock.patch.object(upgrades.jobs, "send_now", return_value=True) as send:
        with django_capture_on_commit_callbacks(execute=True):
            member_id, _ = _award(partner_a, 40)
        assert send.call_count == 1  # joining at blue
        upgrades.evaluate(member_id, send.call_args.args[2])
        with django_capture_on_commit_callbacks(execute=True), in_partner(partner_a):
            earning.behaviour_award(member_id=member_id, event="newsletter")  # 80 in all
    assert send.call_count == 1  # nothing more was due
    assert tier_code_of(member_id) == "blue"


def test_a_failed_upgrade_never_fails_an_award_that_was_made(
    levels: None, partner_a: Partner, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, the award ran ``tier_evaluate`` itself and its database error
    reached the caller after the points had committed."""
    failing = mock.patch.object(
        tier_services, "tier_evaluate", side_effect=OperationalError("connection lost")
    )
    with failing, caplog.at_level(logging.ERROR, logger=upgrades.__name__):
        member_id, result = _award(partner_a, 150)
    assert result.points == 150
    assert ledger_selectors.balance(member_id) == 150
    assert tier_code_of(member_id) is None
    assert "tier upgrade of member" in caplog.text
    # a check that fails is logged too, and the award stands
    caplog.clear()
    broken = mock.patch.object(tier_services, "tier_upgrade_check", return_value=("SELECT 1/0", {}))
    with broken, caplog.at_level(logging.ERROR, logger=upgrades.__name__):
        other_id, result = _award(partner_a, 150)
    assert ledger_selectors.balance(other_id) == 150
    assert "tier upgrade check of member" in caplog.text


def test_a_referral_upgrades_both_members(levels: None, partner_a: Partner) -> None:
    referrer, referee = new_member("ref"), new_member("new")
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="referral", points=150, referee_points=120, max_awards=2)
        result = earning.referral_record(referrer_id=referrer.pk, referee_id=referee.pk)
    assert result.accepted
    assert (tier_code_of(referrer.pk), tier_code_of(referee.pk)) == ("silver", "silver")
