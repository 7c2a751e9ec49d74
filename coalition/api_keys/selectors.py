"""Reads of API keys: a partner's keys with their last use, one key of a partner,
and the SQL the API reads a key with."""

from __future__ import annotations

from django.db import connection

from coalition.api_keys.errors import UnknownApiKey
from coalition.api_keys.models import ApiKey

MAX_KEYS = 200  # far more than any partner creates; a bound on the list


def api_keys_of_partner(*, partner_id: int) -> list[ApiKey]:
    """The partner's keys, active and revoked, newest first."""
    return list(
        ApiKey.objects.filter(partner_id=partner_id).order_by("-created_at", "-id")[:MAX_KEYS]
    )


def api_key_of(*, partner_id: int, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(partner_id=partner_id, pk=key_id).first()
    if key is None:
        raise UnknownApiKey(f"no API key {key_id} for this partner")
    return key


# The API's look-up of a key by its prefix, on every call (``loyalty_graphql.auth``):
# raw SQL on the driver connection, so named with its schema. A row is
# (id, partner_id, key_hash, scopes as JSON text, revoked_at, last_used_at).
_TABLE = "public." + connection.ops.quote_name(ApiKey._meta.db_table)
KEY_COLUMNS = "k.id, k.partner_id, k.key_hash, k.scopes::text, k.revoked_at, k.last_used_at"
KEY_BY_PREFIX_SQL = f"SELECT {KEY_COLUMNS} FROM {_TABLE} k WHERE k.prefix = %s"  # noqa: S608
# Joined to the partner-by-host statement, with the prefix bound as %(prefix)s.
KEY_JOIN_SQL = f" LEFT JOIN {_TABLE} k ON k.prefix = %(prefix)s"
