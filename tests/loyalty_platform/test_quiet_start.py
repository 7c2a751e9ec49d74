"""Starting with nothing configured logs nothing to worry about: warnings on
every start teach people to ignore warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.testkit import PROJECT_ROOT, subprocess_env

# What a web worker does on start and on its first purchase with no broker
# configured: build the middleware (WhiteNoise looks for its static folders) and
# enqueue a task, which Celery runs in-process.
START_AND_ENQUEUE = """
import django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
WSGIHandler()
from loyalty_platform.celery import app
app.loader.import_default_modules()
print(app.tasks["platform.ping"].apply_async().get())
"""


def test_a_worker_with_nothing_configured_starts_and_runs_tasks_without_warnings(
    tmp_path: Path,
) -> None:
    # given nothing configured but a database and a secret (no broker, no static root)
    env = subprocess_env(
        DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing",
        SECRET_KEY="k" * 50,
        LOYALTY_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="loyalty_platform.settings",
        PYTHONWARNINGS="default",
    )

    # when a process starts the web application and enqueues a task
    result = subprocess.run(
        [sys.executable, "-c", START_AND_ENQUEUE],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    # then the task ran in-process
    assert result.returncode == 0, result.stderr
    assert "'schema': 'public'" in result.stdout
    # and neither kombu (a memory broker URL naming no host) nor WhiteNoise (a
    # static folder nobody collected) warned
    assert "No hostname was supplied" not in result.stderr, result.stderr
    assert "No directory at" not in result.stderr, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert "Warning" not in result.stderr, result.stderr
