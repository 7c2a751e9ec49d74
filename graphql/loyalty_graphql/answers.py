"""Stored answers: what a mutation answered for a client's idempotency key.

The base mutation keeps every answer in ``StoredAnswer`` (scope, key, operation,
request fingerprint, the payload as JSON) and replays it for the same key and
input; the same key with other input, or for another operation, is refused with
IDEMPOTENCY_KEY_REUSED. A replay is the original answer whatever happened since:
the payload is stored as its GraphQL values (``dump``), and the first answer is
served from that stored form too (``load``), so the two cannot differ.

Two ways to store, chosen per mutation (``Replay`` in ``loyalty_graphql.base``):

- ``answer_in_transaction``: in the operation's own transaction. The key is
  claimed first by inserting its row; a racing twin's insert waits on the unique
  index until the first commits, then replays its answer. An operation that
  fails rolls its claim back, so a retry runs it again.
- ``answer_after``: for operations that run their own transactions (a period
  close takes the journal's watermark in a short transaction of its own, a payout
  calls Stripe): an advisory lock on the key serialises twins, and the answer is
  stored once the operation has returned. A crash in between leaves no answer
  and the retry runs the operation again, so only operations that are safe to
  repeat may answer this way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

import graphene
from django.db import DatabaseError, connection, transaction

from coalition.ledger.services import retrying
from loyalty_kernel import driver_sql
from loyalty_kernel.idempotency import IdempotencyKey, IdempotencyKeyReused, request_hash

logger = logging.getLogger(__name__)

Json = dict[str, Any]

_CLAIM_SQL = """
INSERT INTO public.loyalty_graphql_storedanswer (scope, key, operation, request_hash)
VALUES (%(scope)s, %(key)s, %(operation)s, %(hash)s)
ON CONFLICT (scope, key) DO NOTHING
RETURNING id
"""
_STORED_SQL = """
SELECT operation, request_hash, answer FROM public.loyalty_graphql_storedanswer
 WHERE scope = %(scope)s AND key = %(key)s
"""
_ANSWER_SQL = """
UPDATE public.loyalty_graphql_storedanswer SET answer = %(answer)s::jsonb WHERE id = %(id)s
"""
_STORE_SQL = """
INSERT INTO public.loyalty_graphql_storedanswer (scope, key, operation, request_hash, answer)
VALUES (%(scope)s, %(key)s, %(operation)s, %(hash)s, %(answer)s::jsonb)
ON CONFLICT (scope, key) DO NOTHING
"""


# --- the request fingerprint ---------------------------------------------------------


def _canonical(value: Any) -> Any:
    """Arguments as plain JSON values; an argument given as null is the same
    input as one left out."""
    if isinstance(value, dict):  # input objects are dicts too
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def fingerprint(operation: str, arguments: dict[str, Any]) -> str:
    return request_hash(operation, {"arguments": _canonical(arguments)})


# --- storing and replaying -------------------------------------------------------------


def _params(key: IdempotencyKey, operation: str, digest: str) -> dict[str, Any]:
    return {"scope": key.scope, "key": key.key, "operation": operation, "hash": digest}


def _replay(row: tuple[Any, ...], key: IdempotencyKey, operation: str, digest: str) -> Json:
    stored_operation, stored_hash, answer = row
    if stored_operation != operation:
        raise IdempotencyKeyReused(f"idempotency key {key.key!r} was used for {stored_operation}")
    if stored_hash != digest:
        raise IdempotencyKeyReused(
            f"idempotency key {key.key!r} was used for {operation} with other input"
        )
    if isinstance(answer, str):  # Django leaves jsonb as text for JSONField to decode
        answer = json.loads(answer)
    if not isinstance(answer, dict):
        raise RuntimeError(f"the stored answer of {operation} is missing")
    return answer


def answer_in_transaction(
    key: IdempotencyKey, *, operation: str, digest: str, act: Callable[[], Json]
) -> Json:
    """The stored answer for ``key``, or ``act()``'s, stored in its transaction."""
    params = _params(key, operation, digest)

    def attempt() -> Json:
        with transaction.atomic():
            # One round trip: the claim, then (with a snapshot taken after the
            # claim waited for any twin) the row the key has now.
            claimed, stored = driver_sql.prepared_pipeline(
                [(_CLAIM_SQL, params), (_STORED_SQL, params)]
            )
            if not claimed:
                return _replay(stored[0], key, operation, digest)
            answer = act()
            driver_sql.prepared(_ANSWER_SQL, {"answer": json.dumps(answer), "id": claimed[0][0]})
            return answer

    # The services inside do not retry a deadlock when nested in this
    # transaction: the whole unit is retried here, as they would retry theirs.
    return retrying(attempt, nested=connection.in_atomic_block)


def _lock_id(key: IdempotencyKey) -> int:
    digest = hashlib.sha256(f"stored-answer:{key.scope}:{key.key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _key_locked(key: IdempotencyKey) -> Iterator[None]:
    lock = _lock_id(key)
    if connection.in_atomic_block:  # an enclosing transaction: it ends the lock
        driver_sql.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        yield
        return
    driver_sql.execute("SELECT pg_advisory_lock(%s)", [lock])
    try:
        yield
    finally:
        try:
            driver_sql.execute("SELECT pg_advisory_unlock(%s)", [lock])
        except DatabaseError:  # a lost connection took the lock with it
            logger.warning("could not release the stored-answer lock of %r", key.key)


def answer_after(
    key: IdempotencyKey, *, operation: str, digest: str, act: Callable[[], Json]
) -> Json:
    """The stored answer for ``key``, or ``act()``'s, stored after it returned."""
    params = _params(key, operation, digest)
    with _key_locked(key):
        row = driver_sql.fetchone(_STORED_SQL, params)
        if row is not None:
            return _replay(row, key, operation, digest)
        answer = act()
        driver_sql.execute(_STORE_SQL, {**params, "answer": json.dumps(answer)})
        return answer


# --- the payload as JSON -------------------------------------------------------------------


def dump(fields: dict[str, Any], values: dict[str, Any]) -> Json:
    """A mutation's payload values as JSON, field by field of its GraphQL type."""
    return {name: _dump(fields[name].type, value) for name, value in values.items()}


def load(fields: dict[str, Any], stored: Json) -> dict[str, Any]:
    """The payload values again, as the GraphQL types resolve them."""
    return {name: _load(fields[name].type, value) for name, value in stored.items()}


def _field_value(root: Any, name: str) -> Any:
    return root.get(name) if isinstance(root, dict) else getattr(root, name, None)


def _dump(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, graphene.NonNull):
        return _dump(kind.of_type, value)
    if isinstance(kind, graphene.List):
        return [_dump(kind.of_type, item) for item in value]
    if hasattr(kind, "stored_form"):  # a type that says how it is kept
        return kind.stored_form(value)
    if issubclass(kind, graphene.Enum):
        return value.value if isinstance(value, Enum) else value
    if issubclass(kind, graphene.Scalar):
        return kind.serialize(value)
    if issubclass(kind, graphene.ObjectType):
        stored: Json = {}
        for name, field in kind._meta.fields.items():
            if field.args:
                raise RuntimeError(
                    f"{kind.__name__}.{name} takes arguments: give the type a stored_form"
                )
            stored[name] = _dump(field.type, _field_value(value, name))
        return stored
    raise RuntimeError(f"cannot store a {kind!r}")


def _load(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, graphene.NonNull):
        return _load(kind.of_type, value)
    if isinstance(kind, graphene.List):
        return [_load(kind.of_type, item) for item in value]
    if hasattr(kind, "from_stored"):
        return kind.from_stored(value)
    if issubclass(kind, graphene.Enum):
        return value
    if issubclass(kind, graphene.Scalar):
        return kind.parse_value(value)
    if issubclass(kind, graphene.ObjectType):
        # a dict: the default resolver reads its keys
        fields = kind._meta.fields.items()
        return {name: _load(field.type, value.get(name)) for name, field in fields}
    raise RuntimeError(f"cannot load a {kind!r}")


# --- erasure ------------------------------------------------------------------------------

_FORGET_ENROLMENT_SQL = """
DELETE FROM public.loyalty_graphql_storedanswer
 WHERE operation = 'enrolMember' AND answer -> 'member' ->> 'pk' = %(member)s
"""


def forget_enrolment_of(member_id: int) -> None:
    """Drop the stored answer to a member's enrolment (its e-mail address, and a
    fingerprint over the address and phone that could confirm a guess), as
    erasure clears the member's own enrolment fingerprint. A retry of that key
    then enrols anew, as it would with the member's own key cleared."""
    driver_sql.execute(_FORGET_ENROLMENT_SQL, {"member": str(member_id)})
