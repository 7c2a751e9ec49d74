"""Creating and revoking API keys, and recording their use.

A key is ``lk_<prefix>_<secret>``: the prefix is public (it finds the row), the
secret is shown once, when the key is created, and only its SHA-256 hash is kept.
The API's authentication (``loyalty_graphql.auth``) reads keys by prefix on every
call; the console's Integration pages and ``loyalty create-api-key`` create and
revoke them here. Every change made by a person is written to the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from coalition.api_keys.errors import InvalidApiKeyName, InvalidScopes
from coalition.api_keys.models import SCOPES, ApiKey
from coalition.audit.services import audit_record
from loyalty_kernel.idempotency import IdempotencyKey, check_replay, request_hash

MAX_NAME_LENGTH = 120


def key_hash(secret: str) -> str:
    """What is stored of a key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_state(key: ApiKey) -> dict[str, Any]:
    """What the audit log keeps of a key (never its hash)."""
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "revoked_at": key.revoked_at,
    }


def _check(*, name: str, scopes: list[str] | tuple[str, ...], partner: Any) -> None:
    if not name.strip():
        raise InvalidApiKeyName("Enter a name for the key, like the app that will use it")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidApiKeyName(f"Enter a name of {MAX_NAME_LENGTH} characters or fewer")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise InvalidScopes(f"scopes must be some of {', '.join(SCOPES)}")
    if partner is None and "operator" not in scopes:
        raise InvalidScopes("a key without a partner is an operator key: give it 'operator'")
    if partner is not None and "operator" in scopes:
        raise InvalidScopes("partner keys cannot have the operator scope")


def api_key_create(
    *,
    name: str,
    scopes: list[str] | tuple[str, ...],
    partner: Any = None,
    idempotency: IdempotencyKey | None = None,
    actor: Any = None,
) -> tuple[ApiKey, str | None]:
    """Create a key; returns the row and the key text, which is never stored.

    With an idempotency key, a retry of the same creation (a double submit)
    returns the key it created and ``None`` for the text: the secret was shown to
    the first request and cannot be shown again. The key with another name or
    other scopes is ``IdempotencyKeyReused``. The key is unique in the database,
    so two twins racing create one key."""
    name = name.strip()
    _check(name=name, scopes=scopes, partner=partner)
    chosen = sorted(set(scopes))
    digest = request_hash(
        "api_key_create",
        {"partner": getattr(partner, "pk", None), "name": name, "scopes": chosen},
    )
    if idempotency is not None and (existing := _created_with(idempotency, digest)):
        return existing, None
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    try:
        # A savepoint: losing the race on the key must not break the caller's transaction.
        with transaction.atomic():
            key = ApiKey.objects.create(
                partner=partner,
                name=name,
                prefix=prefix,
                key_hash=key_hash(secret),
                scopes=chosen,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            if actor is not None:
                audit_record(
                    actor=actor,
                    partner_id=getattr(partner, "pk", None),
                    action="api_key.create",
                    target=("api_key", key.prefix),
                    after=api_key_state(key),
                )
    except IntegrityError:
        if idempotency is not None and (existing := _created_with(idempotency, digest)):
            return existing, None
        raise
    return key, f"lk_{prefix}_{secret}"


def _created_with(idempotency: IdempotencyKey, digest: str) -> ApiKey | None:
    key = ApiKey.objects.filter(
        idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
    ).first()
    if key is not None:
        check_replay(key.request_hash, digest, idempotency, "API key")
    return key


def api_key_revoke(*, key: ApiKey, actor: Any = None) -> ApiKey:
    """Revoke a key: the API refuses it from now on. Revoking a revoked key
    changes nothing (a second press of the button)."""
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is None:
            before = api_key_state(locked)
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            if actor is not None:
                audit_record(
                    actor=actor,
                    partner_id=locked.partner_id,
                    action="api_key.revoke",
                    target=("api_key", locked.prefix),
                    before=before,
                    after=api_key_state(locked),
                )
    key.revoked_at = locked.revoked_at
    return key


def api_key_record_use(*, key_id: int, at: datetime) -> None:
    """Note when a key was last used (the API calls it at most once a minute per key)."""
    ApiKey.objects.filter(pk=key_id).update(last_used_at=at)
