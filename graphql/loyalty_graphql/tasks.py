"""API jobs: delivering outbound webhooks.

A delivery is at least once (receivers deduplicate on its id) and a finished one
is never sent again, so the task acknowledges late: a worker lost mid-delivery
leaves it to be run again. Retries wait ``webhooks.backoff(attempts)`` seconds;
the delivery row, not Celery, counts the attempts and stops at MAX_ATTEMPTS.
"""

from __future__ import annotations

from typing import Any

from loyalty_graphql import webhooks
from loyalty_platform.celery import app


@app.task(
    bind=True,
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def deliver_webhook(self: Any, delivery_id: int) -> Any:
    result = webhooks.deliver(delivery_id)
    if result.retry_in is None:
        return result.status
    if self.request.is_eager:
        # In-process Celery (no broker) runs a retry at once, without the wait.
        # Returned, not raised: eager tasks propagate what they raise, which would
        # end the retries with an error in the caller.
        return self.retry(countdown=result.retry_in, throw=False)
    raise self.retry(countdown=result.retry_in)
