"""The one Celery app of the platform, tenant-aware through tenant-schemas-celery.

A task sent while a partner's schema is active carries that schema in its
headers, and the worker switches to it before running the task. Tasks are thin:
they take ids, load, and call a service. Services enqueue them with
``transaction.on_commit`` so a rolled-back transaction never starts a task.

Database connections live around a task as around a request: Django's
``close_old_connections`` runs before and after each one a worker runs, so a
connection is kept for ``DATABASE_CONN_MAX_AGE`` and replaced when it was found
unusable (its health check costs no round trip: ``loyalty_platform.db_backend``).
Celery's fix-up would otherwise close it around every task (``CELERY_DB_REUSE_MAX``
in the settings stops that).
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")

app = CeleryApp("loyalty_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def connections_as_around_a_request(task: Any = None, **_: Any) -> None:
    """Django's request-boundary rule for a task a worker runs. Never for an eager
    task: it runs inside the request (or transaction) that queued it."""
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()
