"""Daily expiry jobs; idempotent, so they acknowledge late."""

from __future__ import annotations

from celery import shared_task

from coalition.expiry import services


@shared_task(name="expiry.expire_points", acks_late=True)
def expire_points() -> int:
    return services.points_expire()


@shared_task(name="expiry.send_reminders", acks_late=True)
def send_reminders() -> int:
    return services.reminders_send()
