"""Tier reviews at the end of qualification periods; idempotent, acknowledged late."""

from __future__ import annotations

from celery import shared_task

from coalition.tiers import services
from coalition.tiers.notices import send_change_notice

__all__ = ["review", "send_change_notice"]  # the notice task is declared with the services


@shared_task(name="tiers.review", acks_late=True)
def review() -> int:
    return services.tiers_review()
