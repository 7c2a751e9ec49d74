"""An upgrade found due after a purchase: a job when a broker is configured (the
request only publishes it, once its transaction commits), in the request without
one, and in the request too when the broker refuses the job
(tiers.upgrades.tier_evaluate_after)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from coalition.members.services import member_enrol
from coalition.tiers import upgrades
from coalition.tiers.models import TierLevel
from coalition.tiers.selectors import tier_code_of
from tenants.partners.models import Partner
from tests.testkit import free_port
from tests.testkit.ledger import post_journal_at
from tests.testkit.shared_redis import redis_cache, require_redis


@pytest.fixture
def due(db: None, partner_a: Partner) -> tuple[int, datetime]:
    """A member whose 150 earned points reach silver, still without a level."""
    TierLevel.objects.create(code="blue", name="Blue", rank=0, threshold_points=0)
    TierLevel.objects.create(code="silver", name="Silver", rank=1, threshold_points=100)
    member = member_enrol(email=f"upgrade-job-{uuid.uuid4().hex[:10]}@example.com")
    now = timezone.now()
    post_journal_at(member_id=member.pk, partner_id=partner_a.pk, amount=150, at=now)
    return member.pk, now


def test_without_a_broker_the_upgrade_runs_in_the_request(due: tuple[int, datetime]) -> None:
    member_id, now = due
    with mock.patch.object(upgrades.jobs, "send_now") as send:
        upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
    send.assert_not_called()
    assert tier_code_of(member_id) == "silver"


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_with_a_broker_the_request_publishes_a_job_after_its_commit(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    member_id, now = due
    published: list[tuple[Any, ...]] = []

    def send_now(*args: Any) -> bool:
        published.append(args)
        return True

    with mock.patch.object(upgrades.jobs, "send_now", side_effect=send_now):
        with django_capture_on_commit_callbacks(execute=True):
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
            assert published == []  # nothing before the commit
        assert published == [(upgrades.evaluate, member_id, now.isoformat())]
    # the request did not upgrade; the job, when a worker runs it, does
    assert tier_code_of(member_id) is None
    assert upgrades.evaluate(member_id, now.isoformat()) is True
    assert tier_code_of(member_id) == "silver"
    # and a second run of the same job changes nothing (acks_late: it may run twice)
    assert upgrades.evaluate(member_id, now.isoformat()) is True
    assert tier_code_of(member_id) == "silver"


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_refused_job_runs_in_the_request(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    member_id, now = due
    with mock.patch.object(upgrades.jobs, "send_now", return_value=False) as send, \
            django_capture_on_commit_callbacks(execute=True):  # fmt: skip
        upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
    # refused, so the request upgraded (and queued the member's e-mail after it)
    assert send.call_args_list[0] == mock.call(upgrades.evaluate, member_id, now.isoformat())
    assert tier_code_of(member_id) == "silver"


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_rolled_back_transaction_publishes_nothing(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    member_id, now = due

    class Abandon(Exception):
        pass

    def abandoned_request() -> None:
        with transaction.atomic():
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
            raise Abandon

    with mock.patch.object(upgrades.jobs, "send_now") as send, \
            django_capture_on_commit_callbacks(execute=True) as callbacks, \
            pytest.raises(Abandon):  # fmt: skip
        abandoned_request()
    assert callbacks == []
    send.assert_not_called()
    assert tier_code_of(member_id) is None


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_one_job_per_member_until_it_may_have_been_lost(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    """Until a worker runs the job, each purchase of the member finds the upgrade
    still due: while they hold the same level this process publishes it once, then
    again only after REPUBLISH_AFTER seconds (a job lost with its worker)."""
    member_id, now = due
    clock = [1_000.0]

    def purchase() -> None:  # a request that found the upgrade due, and committed
        with django_capture_on_commit_callbacks(execute=True):
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)

    tick = mock.Mock(side_effect=lambda: clock[0])
    with mock.patch.object(upgrades.jobs, "send_now", return_value=True) as send, \
            mock.patch.object(upgrades.time, "monotonic", tick):  # fmt: skip
        for _ in range(5):  # five purchases in a row
            purchase()
        assert send.call_count == 1
        clock[0] += upgrades.REPUBLISH_AFTER
        cache.delete(upgrades._claim_key((member_id, None)))  # its shared claim expired too
        purchase()
        assert send.call_count == 2
        # and once the member holds a level, the next upgrade is a job of its own
        with django_capture_on_commit_callbacks(execute=True):
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held="blue")
        assert send.call_count == 3


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_one_job_per_upgrade_whatever_the_number_of_web_processes(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    """Each web process finds the upgrade due from the member's purchases it
    serves; the first to claim it in the shared cache publishes the job. Before,
    every process published its own (one job per process per upgrade)."""
    member_id, now = due
    require_redis()
    shared = redis_cache(KEY_PREFIX=f"upgrade-job-{uuid.uuid4().hex[:8]}")
    with override_settings(CACHES=shared), \
            mock.patch.object(upgrades.jobs, "send_now", return_value=True) as send:  # fmt: skip
        for _process in range(4):  # four web processes, each with its own memory
            upgrades._PUBLISHED.clear()
            with django_capture_on_commit_callbacks(execute=True):
                upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
        assert send.call_count == 1
        # and when the broker refuses a job, the claim goes with it: the next
        # purchase, in any process, publishes it again
        send.return_value = False
        cache.delete(upgrades._claim_key((member_id, None)))
        upgrades._PUBLISHED.clear()
        with django_capture_on_commit_callbacks(execute=True):
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held="silver")
        assert cache.get(upgrades._claim_key((member_id, "silver"))) is None
        cache.delete(upgrades._claim_key((member_id, None)))


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_cache_that_fails_does_not_stop_the_job(
    due: tuple[int, datetime], django_capture_on_commit_callbacks: Any
) -> None:
    member_id, now = due
    unreachable = redis_cache(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with override_settings(CACHES=unreachable), \
            mock.patch.object(upgrades.jobs, "send_now", return_value=True) as send:  # fmt: skip
        upgrades._PUBLISHED.clear()
        with django_capture_on_commit_callbacks(execute=True):
            upgrades.tier_evaluate_after(member_id=member_id, now=now, held=None)
    assert send.call_args_list == [mock.call(upgrades.evaluate, member_id, now.isoformat())]
