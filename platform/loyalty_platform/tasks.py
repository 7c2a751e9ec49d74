"""Platform-level tasks."""

from __future__ import annotations

from celery import shared_task

from loyalty_kernel.tenancy import current_schema


@shared_task(name="platform.ping")
def ping() -> dict[str, str]:
    """Answer with the schema the task ran in: `doctor` and tests use it to prove
    that a worker is alive and honours the tenant it was sent from."""
    return {"schema": current_schema()}
