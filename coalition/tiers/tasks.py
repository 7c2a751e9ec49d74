"""Tier reviews at the end of qualification periods; idempotent, acknowledged late."""

from __future__ import annotations

from coalition.tiers import services
from loyalty_platform.celery import app


@app.task(name="tiers.review", acks_late=True)
def review() -> int:
    return services.tiers_review()
