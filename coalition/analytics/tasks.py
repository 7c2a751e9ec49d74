"""The rollup folder, run by the beat schedule."""

from __future__ import annotations

from celery import shared_task

from coalition.analytics import services


@shared_task(name="analytics.advance_rollups", acks_late=True, ignore_result=True)
def advance_rollups() -> int:
    return services.rollups_advance()
