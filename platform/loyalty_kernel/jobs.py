"""Enqueueing background jobs after the current transaction commits.

Domain code declares its tasks with ``celery.shared_task`` and sends them through
``enqueue_on_commit``: a rolled-back transaction never starts a job, and once
the transaction has committed nothing here may turn that success into an error.
A broker that is down is logged, and the job is left to the periodic sweep that
owns it (every enqueued job has one: webhook deliveries, payouts, Stripe events).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def send_now(task: Any, *args: Any, **kwargs: Any) -> bool:
    """Send ``task`` now; False (and a log line) when the broker refuses it."""
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except Exception:
        logger.exception("could not enqueue %s; its sweep will pick it up", _name(task))
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` with these arguments once the current transaction commits."""

    def send() -> None:
        send_now(task, *args, **kwargs)

    # A named function, not functools.partial: Django's on-commit error logging
    # reads __qualname__, which a partial lacks.
    send.__qualname__ = f"enqueue_on_commit<{_name(task)}>"
    transaction.on_commit(send, robust=True)


def _name(task: Any) -> str:
    return str(getattr(task, "name", None) or getattr(task, "__name__", repr(task)))


def after_commit(function: Any, *args: Any) -> None:
    """Call ``function(*args)`` once the current transaction commits; an exception
    it raises is logged, never returned to the caller whose work has committed."""

    def call() -> None:
        try:
            function(*args)
        except Exception:
            logger.exception("after-commit call %s failed", _name(function))

    call.__qualname__ = f"after_commit<{_name(function)}>"
    transaction.on_commit(call, robust=True)
