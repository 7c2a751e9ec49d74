"""Typed errors of the API keys app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class InvalidScopes(DomainError):
    code = "invalid_scopes"
    field = "scopes"


class InvalidApiKeyName(DomainError):
    code = "invalid_api_key_name"
    field = "name"


class UnknownApiKey(DomainError):
    code = "unknown_api_key"
    field = "id"
