"""Who is calling: partner apps (API keys), members (signed tokens), the operator.

``Authorization: Bearer lk_<prefix>_<secret>`` is an API key; ``Bearer mt_...``
a member token issued by the platform. A partner key acts only inside its own
partner: the tenant comes from the key and the request's host must agree.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core import signing
from django.http import HttpRequest
from django.utils import timezone

# Keys are a domain of their own (coalition.api_keys); creating and revoking stay
# importable from here (explicit re-exports) for the API's callers.
from coalition.api_keys import selectors as key_selectors
from coalition.api_keys.errors import InvalidScopes as InvalidScopes
from coalition.api_keys.services import api_key_create as api_key_create
from coalition.api_keys.services import api_key_record_use, key_hash
from coalition.api_keys.services import api_key_revoke as api_key_revoke
from loyalty_graphql.errors import AuthenticationFailed
from loyalty_kernel import driver_sql
from tenants.partners import selectors as partner_selectors

MEMBER_TOKEN_SALT = "loyalty.member-token"  # noqa: S105 - a salt, not a secret
MEMBER_TOKEN_TTL = timedelta(hours=12)
LAST_USED_EVERY = timedelta(minutes=1)  # a key is a hot row: record use sparingly


@dataclass(frozen=True)
class Principal:
    kind: str  # "partner", "member", "operator" or "anonymous"
    partner_id: int | None = None
    member_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: int | None = None

    @property
    def idempotency_scope(self) -> str:
        if self.kind == "partner":
            return f"partner:{self.partner_id}"
        if self.kind == "member":
            return f"member:{self.member_id}"
        return self.kind

    @property
    def rate_limit_key(self) -> str:
        if self.key_id is not None:
            return f"key:{self.key_id}"
        return f"{self.kind}:{self.member_id or ''}"


ANONYMOUS = Principal("anonymous")


def member_token_issue(member_id: int) -> str:
    return "mt_" + signing.TimestampSigner(salt=MEMBER_TOKEN_SALT).sign(str(member_id))


def member_token_signed_value(token: str) -> str:
    """What a member token signs ("<member id>:<timestamp>"): a stored answer
    keeps this, never the token, and gets the same token back from it."""
    return token[3:].rpartition(":")[0]


def member_token_from_signed_value(value: str) -> str:
    """The token ``member_token_issue`` gave for this signed value, identical:
    a timestamped signature is the plain signature of "<value>:<timestamp>"."""
    return "mt_" + signing.Signer(salt=MEMBER_TOKEN_SALT).sign(value)


def _member_from_token(token: str) -> Principal:
    try:
        value = signing.TimestampSigner(salt=MEMBER_TOKEN_SALT).unsign(
            token[3:], max_age=MEMBER_TOKEN_TTL
        )
    except signing.BadSignature:
        raise AuthenticationFailed("the member token is invalid or expired") from None
    return Principal("member", member_id=int(value), scopes=frozenset({"read", "redeem"}))


@dataclass(frozen=True)
class KeyLookup:
    """An API key's row (None: no such key), read with the request's partner."""

    prefix: str
    row: tuple[Any, ...] | None


def api_key_prefix(authorization: str) -> str | None:
    """The public prefix of ``Bearer lk_<prefix>_<secret>``, if that is the header."""
    scheme, _, token = authorization.partition(" ")
    parts = token.strip().split("_", 2)
    if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != "lk":
        return None
    return parts[1]


def partner_and_key_by_host(hostname: str, authorization: str) -> tuple[Any, KeyLookup | None]:
    """The partner behind the host and, when the request carries an API key, the
    key's row: one statement for both (every partner API call needs the two)."""
    prefix = api_key_prefix(authorization)
    if prefix is None:
        return partner_selectors.partner_by_host(hostname), None
    sql = partner_selectors.partner_by_host_sql(
        more=f", {key_selectors.KEY_COLUMNS}", join=key_selectors.KEY_JOIN_SQL
    )
    row = driver_sql.prepared(sql, {"host": hostname, "prefix": prefix})
    if row is None:
        return None, None
    key = row[len(partner_selectors.PARTNER_COLUMNS) :]
    return partner_selectors.partner_from_row(row), KeyLookup(
        prefix, key if key[0] is not None else None
    )


def _from_api_key(token: str, lookup: KeyLookup | None) -> Principal:
    try:
        _, prefix, secret = token.split("_", 2)
    except ValueError:
        raise AuthenticationFailed("malformed API key") from None
    if lookup is not None and lookup.prefix == prefix:
        row = lookup.row  # read along with the partner by the host middleware
    else:
        row = driver_sql.prepared(key_selectors.KEY_BY_PREFIX_SQL, [prefix])
    if row is None or not hmac.compare_digest(row[2], key_hash(secret)):
        raise AuthenticationFailed("unknown API key")
    key_id, partner_id, _, scopes, revoked_at, last_used_at = row
    if revoked_at is not None:
        raise AuthenticationFailed("this API key was revoked")
    now = timezone.now()
    if last_used_at is None or now - last_used_at > LAST_USED_EVERY:
        api_key_record_use(key_id=key_id, at=now)
    kind = "operator" if partner_id is None else "partner"
    return Principal(
        kind, partner_id=partner_id, scopes=frozenset(json.loads(scopes)), key_id=key_id
    )


def authenticate(request: HttpRequest) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("use 'Authorization: Bearer <key or token>'")
    token = token.strip()
    if token.startswith("mt_"):
        return _member_from_token(token)
    if token.startswith("lk_"):
        return _from_api_key(token, getattr(request, "api_key_lookup", None))
    raise AuthenticationFailed("unknown credential type")
