"""Periodic jobs without a broker: when Celery runs in-process (no REDIS_URL), the
web server runs the beat schedule itself in a background thread, so the embedded
demo still seals the ledger chain, expires holds and lots.

With a broker configured this is off: run `celery -A loyalty_platform beat`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


class InProcessBeat(threading.Thread):
    def __init__(self, schedule: dict[str, dict[str, Any]], *, tick: float = 1.0) -> None:
        super().__init__(name="loyalty-inprocess-beat", daemon=True)
        self.schedule = schedule
        self.tick = tick
        self.stopping = threading.Event()
        self.next_run = {name: time.monotonic() for name in schedule}

    def run_due(self, now: float) -> None:
        from loyalty_platform.celery import app

        app.loader.import_default_modules()  # autodiscovery is lazy without a worker
        for name, entry in self.schedule.items():
            if now < self.next_run[name]:
                continue
            self.next_run[name] = now + float(entry["schedule"])
            try:
                app.tasks[entry["task"]].apply(throw=True)
            except Exception:
                logger.exception("periodic job %s failed", entry["task"])

    def run(self) -> None:
        while not self.stopping.wait(self.tick):
            try:
                self.run_due(time.monotonic())
            finally:
                connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.stopping.set()


def start_if_needed() -> InProcessBeat | None:
    if not settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BEAT_SCHEDULE:
        return None
    beat = InProcessBeat(settings.CELERY_BEAT_SCHEDULE)
    beat.start()
    logger.info("no broker configured: running %d periodic jobs in-process", len(beat.schedule))
    return beat
