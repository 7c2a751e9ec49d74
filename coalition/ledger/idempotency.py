"""Idempotency of ledger operations.

Every mutating operation may carry a (scope, key). The scope says who chose the
key (``partner:12``, ``member:7``, ``system:expiry``), so two partners can never
collide. The request hash covers the operation and its payload: the same key
with the same payload replays the stored result, with another payload it is an
``IdempotencyKeyReused`` error. A unique constraint on (scope, key) in the
journal makes "nothing posts twice" a database guarantee, also under races.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str
    key: str

    def __post_init__(self) -> None:
        from coalition.ledger.errors import LedgerError

        if not self.scope or len(self.scope) > 80:
            raise LedgerError("idempotency scope must be 1-80 characters", field="idempotency_key")
        if not self.key or len(self.key) > 120:
            raise LedgerError("idempotency key must be 1-120 characters", field="idempotency_key")


def request_hash(operation: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"operation": operation, **payload}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
