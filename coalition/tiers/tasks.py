"""Tier reviews at the end of qualification periods; idempotent, acknowledged late."""

from __future__ import annotations

from celery import shared_task

from coalition.tiers import services
from coalition.tiers.notices import send_change_notice
from coalition.tiers.upgrades import evaluate

# the notice and upgrade tasks are declared beside the code that enqueues them
__all__ = ["evaluate", "review", "send_change_notice"]


@shared_task(name="tiers.review", acks_late=True)
def review() -> int:
    return services.tiers_review()
