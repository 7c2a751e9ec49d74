"""Platform-level tasks."""

from __future__ import annotations

from celery import shared_task

from loyalty_kernel.tenancy import current_schema


@shared_task(name="platform.ping", ignore_result=False)
def ping() -> dict[str, str]:
    """Answer with the schema the task ran in: the worker tests use it to prove
    that a worker is alive and honours the tenant it was sent from. The one task
    whose result is stored (``CELERY_TASK_IGNORE_RESULT``)."""
    return {"schema": current_schema()}
