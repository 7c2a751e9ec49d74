"""A tier upgrade an earn found due, after its commit: a job (``tiers.evaluate``)
when a broker is configured, so the purchase (or the behaviour award, or the
referral) answers without waiting for it; in the request without one.
``services.tier_evaluate`` decides either way, under the member's tier row lock."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from coalition.tiers import services
from coalition.tiers.errors import TierError
from loyalty_kernel import driver_sql, jobs

logger = logging.getLogger(__name__)


@shared_task(name="tiers.evaluate", acks_late=True)
def evaluate(member_id: int, at: str) -> bool:
    """``tier_evaluate`` as a job (``tier_evaluate_after``); True if the member
    holds a level after it. Idempotent: it decides again under the member's tier row
    lock, so a job run twice upgrades once."""
    return services.tier_evaluate(member_id=member_id, now=datetime.fromisoformat(at)) is not None


# Upgrade jobs this process published lately ({(member id, level held): when, on
# the monotonic clock}): until a worker has run one, every purchase of the member
# finds the upgrade still due, and one job is enough (it decides under the lock).
# Once it has run, the member holds another level: the next upgrade is a new key.
_PUBLISHED: dict[tuple[int, str | None], float] = {}
_PUBLISHED_LOCK = threading.Lock()
REPUBLISH_AFTER = 30.0  # seconds: a job lost with its worker is published again


def _claim_key(key: tuple[int, str | None]) -> str:
    member_id, held = key
    return f"tiers:evaluate:{member_id}:{held or ''}"


def _publish_due(key: tuple[int, str | None]) -> bool:
    """Whether to publish this upgrade job now (and remember it). The other web
    processes find the same upgrade due from the member's next purchases, so the
    first to claim it in the shared cache (Redis when configured; per process
    otherwise) publishes it: one job per upgrade, not one per process. The claim
    lasts ``REPUBLISH_AFTER`` like this process's memory of it, and costs a
    round trip only when an upgrade is due. A cache that fails does not stop the
    upgrade: the job is published (it decides again under the lock)."""
    now = time.monotonic()
    with _PUBLISHED_LOCK:
        if now - _PUBLISHED.get(key, -REPUBLISH_AFTER) < REPUBLISH_AFTER:
            return False
        if len(_PUBLISHED) >= 10_000:  # forget what is past its time
            for stale in [k for k, at in _PUBLISHED.items() if now - at >= REPUBLISH_AFTER]:
                del _PUBLISHED[stale]
        _PUBLISHED[key] = now
    try:
        return bool(cache.add(_claim_key(key), 1, timeout=REPUBLISH_AFTER))
    except Exception as exc:  # the shared cache is down: publish anyway
        logger.warning("tier upgrade claim for member %s not shared (%s)", key[0], exc)
        return True


def _unclaim(key: tuple[int, str | None]) -> None:
    """The broker refused the job: let a later purchase publish it again."""
    with _PUBLISHED_LOCK:
        _PUBLISHED.pop(key, None)
    try:
        cache.delete(_claim_key(key))
    except Exception as exc:
        logger.warning("tier upgrade claim for member %s not released (%s)", key[0], exc)


def tier_evaluate_after(*, member_id: int, now: datetime, held: str | None) -> None:
    """``tier_evaluate`` for a caller whose points have committed and which found an
    upgrade due. With a broker it is a job (``tiers.evaluate``), published once the
    current transaction (if any) commits, so a request only publishes it and
    answers: an upgrade is a transaction of about ten statements, and the member's
    e-mail follows it. Until a worker has run it the member's purchases find the
    upgrade still due: while they hold the same level (``held``, the code the check
    read, None for none), it is published again only after ``REPUBLISH_AFTER``
    seconds, by whichever web process claims it first (``_publish_due``). Without
    a broker it runs here and now, and so it does when the broker refuses the job.
    A failure is logged, never raised: the caller's work stands, and the member's
    next earn finds the upgrade still due."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _evaluate_logged(member_id, now)
        return

    key = (member_id, held)

    def publish() -> None:
        if not _publish_due(key):
            return
        if not jobs.send_now(evaluate, member_id, now.isoformat()):
            _unclaim(key)
            _evaluate_logged(member_id, now)

    publish.__qualname__ = "tier_evaluate_after<tiers.evaluate>"
    transaction.on_commit(publish, robust=True)


def _evaluate_logged(member_id: int, now: datetime) -> None:
    try:
        services.tier_evaluate(member_id=member_id, now=now)
    except Exception:
        logger.exception("tier upgrade of member %s failed", member_id)


def tier_upgrade_after_earn(*, member_id: int) -> None:
    """After points landed other than by a purchase (a behaviour award, a
    referral): the upgrade check, one statement, and only when an upgrade is due,
    ``tier_evaluate_after``. A purchase sends the check with its own statements;
    these earns used to run the whole upgrade transaction in the request, every
    time, and let its failure reach a caller whose points had committed. Never
    raises: the check runs under a savepoint (the caller's transaction, if any,
    stays usable), a failure is logged, and the member's next earn checks again."""
    now = timezone.now()  # after the earn: its points fall inside the window
    try:
        with transaction.atomic():
            row = driver_sql.prepared(*services.tier_upgrade_check(member_id=member_id, now=now))
            due = services.tier_upgrade_due(row)
    except (DatabaseError, TierError):
        logger.exception("tier upgrade check of member %s failed", member_id)
        return
    if due and row is not None:
        tier_evaluate_after(member_id=member_id, now=now, held=row[1])
