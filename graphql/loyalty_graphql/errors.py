"""Typed errors of the API: every payload carries ``errors { field code message }``.

The ``ErrorCode`` enum is built from every domain error's ``code`` (plus the
API's own), so clients can branch on codes and a new domain error shows up in the
committed schema file.
"""

from __future__ import annotations

import importlib
from typing import Any

import graphene

from loyalty_platform.errors import DomainError

# Modules whose typed errors reach the API (imported so their classes exist).
DOMAIN_MODULES = (
    "coalition.ledger.errors",
    "coalition.members.errors",
    "coalition.charity.services",
    "coalition.transfers.services",
    "coalition.settlement.services",
    "coalition.settlement.stripe_gateway",
    "coalition.webhooks.selectors",
    "coalition.webhooks.services",
    "tenants.partners.errors",
    "tenants.earning.engine",
    "tenants.earning.services",
    "tenants.purchases.services",
    "tenants.rewards.services",
    "loyalty_graphql.auth",
)
API_CODES = ("permission_denied", "rate_limited", "not_found", "invalid_input")


def _all_subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_codes() -> list[str]:
    for module in DOMAIN_MODULES:
        importlib.import_module(module)
    codes = {getattr(cls, "code", "error") for cls in _all_subclasses(DomainError)}
    return sorted(codes | set(API_CODES) | {DomainError.code})


ErrorCode = graphene.Enum("ErrorCode", [(code.upper(), code) for code in error_codes()])


class Error(graphene.ObjectType):
    field = graphene.String(description="The input that was wrong, if one was.")
    code = graphene.Field(ErrorCode, required=True)
    message = graphene.String(required=True)


def error_of(exc: DomainError) -> dict[str, Any]:
    return {"field": exc.field, "code": exc.code, "message": exc.message}


def api_error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}
