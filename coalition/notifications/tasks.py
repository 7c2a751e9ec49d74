"""The daily digest job; idempotent (the outbox), so it acknowledges late."""

from __future__ import annotations

from celery import shared_task

from coalition.notifications import digest


@shared_task(name="notifications.send_points_digests", acks_late=True)
def send_points_digests() -> int:
    return digest.points_digests_send()
