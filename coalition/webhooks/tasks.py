"""Outbound webhook jobs: one delivery attempt, and the sweep for lost deliveries.

A delivery is at least once (receivers deduplicate on its id) and a finished one
is never sent again, so the attempt acknowledges late. Retries wait
``services.backoff(attempts)`` seconds; the delivery row, not Celery, counts the
attempts and stops at MAX_ATTEMPTS, and each retry carries the count it expects,
so a duplicate of it claims nothing. Without a broker (tasks run in-process) a
failed attempt is not retried here: the sweep picks it up once it is due.

A database that cannot be reached (a restart, a failover, a dropped connection)
is not the receiver's fault and costs no attempt: the task is retried with its
own backoff (1, 2, 4 ... 60 s), up to DATABASE_RETRIES times, instead of being
dropped to wait for the sweep's five-minute margin.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import current_app, shared_task
from django.db import InterfaceError, OperationalError

from coalition.webhooks import services

logger = logging.getLogger(__name__)

DATABASE_RETRIES = 20
DATABASE_BACKOFF_CAP = 60


def database_backoff(retries: int) -> int:
    """Seconds to wait before retrying after the ``retries``-th database error."""
    return int(min(DATABASE_BACKOFF_CAP, 2**retries))


@shared_task(
    bind=True,
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def deliver_webhook(self: Any, delivery_id: int, attempts: int | None = None) -> Any:
    # ``attempts`` is None in messages queued before it existed: claim whatever is pending.
    try:
        result = services.deliver(delivery_id, attempts=attempts)
    except (OperationalError, InterfaceError) as exc:
        retries = self.request.retries or 0
        if self.request.is_eager or retries >= DATABASE_RETRIES:
            logger.warning("webhook delivery %s: database unavailable (%s); left to the sweep",
                           delivery_id, exc)  # fmt: skip
            return "database_unavailable"
        logger.info("webhook delivery %s: database unavailable, retrying", delivery_id)
        # Same arguments: the claim never happened, or it did and the lease will
        # let the sweep take the row back; either way no attempt is counted twice.
        raise self.retry(
            args=(delivery_id, attempts), countdown=database_backoff(retries), exc=exc
        ) from exc
    if result.retry_in is None:
        return result.status
    if self.request.is_eager:
        # In-process, a retry would run at once, without the wait: the failed attempt
        # is recorded with its next_attempt_at and the sweep sends it when it is due.
        return result.status
    raise self.retry(args=(delivery_id, result.attempts), countdown=result.retry_in)


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> int:
    """Re-enqueue deliveries lost by a crashed worker or broker. In-process (no
    broker) it also makes every retry, so it takes whatever is due, no margin."""
    margin = timedelta(0) if current_app.conf.task_always_eager else services.SWEEP_MARGIN
    return len(services.deliveries_sweep(margin=margin))
