"""Django project shell of the coalition loyalty platform.

Settings, URL routing, the Celery app, the command-line entry point and the
cross-cutting services (configuration, embedded database, preflight checks).
"""

from loyalty_platform.celery import app as celery_app

__all__ = ["celery_app"]
