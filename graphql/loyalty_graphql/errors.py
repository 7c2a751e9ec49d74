"""Typed errors of the API: every payload carries ``errors { field code message }``.

The ``ErrorCode`` enum is built from every domain error's ``code`` (plus the
API's own), so clients can branch on codes and a new domain error shows up in the
committed schema file.
"""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_kernel.errors import DomainError, error_classes


class AuthenticationFailed(DomainError):
    code = "unauthenticated"


# The API's own codes, mutation payloads' and ``extensions.code`` of refused
# requests (a malformed document, too costly, the database unreachable).
API_CODES = (
    "permission_denied", "rate_limited", "not_found", "invalid_input", "method_not_allowed",
    "graphql_parse_failed", "graphql_validation_failed", "query_too_complex",
    "service_unavailable",
)  # fmt: skip


def error_codes() -> list[str]:
    """Every domain error's code (each installed app's ``errors`` module, found by
    the kernel's registry) plus the API's own codes, sorted."""
    from django.apps import apps

    packages = [config.name for config in apps.get_app_configs()] + ["loyalty_graphql"]
    codes = set(error_classes(packages)) | set(API_CODES)
    return sorted(codes)


ErrorCode = graphene.Enum("ErrorCode", [(code.upper(), code) for code in error_codes()])


class Error(graphene.ObjectType):
    field = graphene.String(description="The input that was wrong, if one was.")
    code = graphene.Field(ErrorCode, required=True)
    message = graphene.String(required=True)


def error_of(exc: DomainError) -> dict[str, Any]:
    return {"field": exc.field, "code": exc.code, "message": exc.message}


def api_error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}
