"""The one base class of every mutation.

A mutation declares who may call it (principal kinds and a scope) and implements
``perform``; the base class checks permissions, builds the idempotency key from
the caller and the client's key, turns domain errors into typed ``errors`` and
never lets an unexpected exception leak its details. Resolvers hold no business
rules: ``perform`` calls services.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import graphene
from django.db import DataError

from loyalty_graphql.auth import Principal
from loyalty_graphql.errors import Error, api_error, error_of
from loyalty_graphql.middleware import UNSTORABLE
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey

logger = logging.getLogger(__name__)


def principal_of(info: Any) -> Principal:
    return getattr(info.context, "principal", None) or Principal("anonymous")


def permission_problem(
    principal: Principal, kinds: frozenset[str], scope: str | None
) -> str | None:
    if principal.kind == "anonymous":
        return "authentication required"
    if principal.kind not in kinds:
        return f"{principal.kind} credentials cannot do this"
    if scope and principal.kind != "member" and scope not in principal.scopes:
        return f"the key lacks the '{scope}' scope"
    return None


class LoyaltyMutation(graphene.Mutation):
    """Subclasses set ``allowed`` and ``scope``, and implement ``perform``."""

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(Error), required=True)

    allowed: ClassVar[frozenset[str]] = frozenset({"partner"})
    scope: ClassVar[str | None] = None

    @classmethod
    def perform(cls, info: Any, principal: Principal, **arguments: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def idempotency(cls, principal: Principal, key: str | None) -> IdempotencyKey | None:
        return IdempotencyKey(principal.idempotency_scope, key) if key else None

    @classmethod
    def mutate(cls, root: Any, info: Any, **arguments: Any) -> Any:
        principal = principal_of(info)
        problem = permission_problem(principal, cls.allowed, cls.scope)
        if problem:
            return cls(errors=[api_error("permission_denied", problem)])
        try:
            payload = cls.perform(info, principal, **arguments)
        except DomainError as exc:
            return cls(errors=[error_of(exc)])
        except (ValueError, TypeError, OverflowError) as exc:
            logger.info("invalid input to %s: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", str(exc))])
        except DataError as exc:
            logger.info("input to %s the database cannot store: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", UNSTORABLE)])
        return cls(errors=[], **payload)
