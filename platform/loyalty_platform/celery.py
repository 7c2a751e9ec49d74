"""The one Celery app of the platform, tenant-aware through tenant-schemas-celery.

A task sent while a partner's schema is active carries that schema in its
headers, and the worker switches to it before running the task. Tasks are thin:
they take ids, load, and call a service. Services enqueue them with
``transaction.on_commit`` so a rolled-back transaction never starts a task.
"""

from __future__ import annotations

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")

app = CeleryApp("loyalty_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
