"""pytest plugin (loaded with ``-p`` from pyproject): starts the embedded
PostgreSQL before pytest-django reads the settings, when no DATABASE_URL is set.

It must run at import time: pytest-django loads settings in its own early hook,
before any conftest.py is imported.
"""

from loyalty_platform import embedded_db

embedded_db.ensure_running()
