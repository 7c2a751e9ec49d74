"""Platform-level tasks."""

from __future__ import annotations

from loyalty_platform.celery import app
from loyalty_platform.schemas import current_schema


@app.task(name="platform.ping")
def ping() -> dict[str, str]:
    """Answer with the schema the task ran in: `doctor` and tests use it to prove
    that a worker is alive and honours the tenant it was sent from."""
    return {"schema": current_schema()}
