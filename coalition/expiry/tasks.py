"""Daily expiry jobs; idempotent, so they acknowledge late."""

from __future__ import annotations

from coalition.expiry import services
from loyalty_platform.celery import app


@app.task(name="expiry.expire_points", acks_late=True)
def expire_points() -> int:
    return services.points_expire()


@app.task(name="expiry.send_reminders", acks_late=True)
def send_reminders() -> int:
    return services.reminders_send()
