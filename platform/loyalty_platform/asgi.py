"""ASGI entry point, for servers that speak ASGI."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from loyalty_platform import embedded_db

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_platform.settings")
embedded_db.ensure_running()
application = get_asgi_application()
