"""Idempotency keys and request fingerprints: one implementation for every operation.

Every mutating operation may carry a (scope, key). The scope says who chose the
key (``partner:12``, ``member:7``, ``system:expiry``), so two callers can never
collide. The request fingerprint covers the operation and its payload: the same
key with the same payload replays the stored result, with another payload it is
``IdempotencyKeyReused``. The table that stores the operation's result carries a
unique constraint on (scope, key), which makes "nothing happens twice" a
database guarantee, also under races.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from loyalty_kernel.errors import DomainError

MAX_SCOPE_LENGTH = 80
MAX_KEY_LENGTH = 120


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    field = "idempotency_key"


class IdempotencyKeyReused(DomainError):
    """The same (scope, key) came with a different request: nothing was done."""

    code = "idempotency_key_reused"
    field = "idempotency_key"


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str
    key: str

    def __post_init__(self) -> None:
        if not self.scope or len(self.scope) > MAX_SCOPE_LENGTH:
            raise InvalidIdempotencyKey(
                f"idempotency scope must be 1-{MAX_SCOPE_LENGTH} characters"
            )
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise InvalidIdempotencyKey(f"idempotency key must be 1-{MAX_KEY_LENGTH} characters")


def request_hash(operation: str, payload: dict[str, Any]) -> str:
    """The request fingerprint: SHA-256 of the operation and its canonical JSON payload."""
    canonical = json.dumps(
        {"operation": operation, **payload}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_replay(stored_hash: str, digest: str, key: IdempotencyKey, what: str) -> None:
    """Refuse a stored result whose fingerprint differs from this request's."""
    if stored_hash != digest:
        raise IdempotencyKeyReused(f"idempotency key {key.key!r} was used for a different {what}")
