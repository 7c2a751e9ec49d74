"""WSGI entry point (gunicorn, through `loyalty serve`)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from loyalty_platform import embedded_db

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")
embedded_db.ensure_running()
application = get_wsgi_application()
