"""The one retry loop of the ledger: redo a unit of work after a deadlock or a
serialization failure, which PostgreSQL may raise for any transaction and which
say nothing about the request itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

T = TypeVar("T")

MAX_ATTEMPTS = 5
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def is_retryable(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _RETRYABLE_SQLSTATES


def retrying(
    operation: Callable[[], T], attempts: int = MAX_ATTEMPTS, *, nested: bool = False
) -> T:
    """Run ``operation`` (a whole transaction) again on a deadlock or serialization
    failure, up to ``attempts`` times, with a short growing pause.

    ``nested``: the operation runs inside the caller's transaction. The failure
    has then aborted that whole transaction, which only the caller can redo, so
    it is raised at once.
    """
    for attempt in range(1, attempts):
        try:
            return operation()
        except OperationalError as exc:
            if nested or not is_retryable(exc):
                raise
        time.sleep(0.005 * attempt)
    return operation()
