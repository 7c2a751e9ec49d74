"""The one base class of every mutation, and the permission checks of resolvers.

A mutation declares who may call it (principal kinds and a scope), its
``Arguments`` (without the idempotency key: the base class adds
``idempotencyKey`` to every mutation) and implements ``perform``; the base class
checks permissions, builds the idempotency key from the caller and the client's
key, turns domain errors into typed ``errors`` and never lets an unexpected
exception leak its details. Resolvers hold no business rules: ``perform`` calls
services.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import graphene
from django.db import DataError
from graphene.utils.props import props

from loyalty_graphql.auth import Principal
from loyalty_graphql.errors import Error, api_error, error_of
from loyalty_graphql.middleware import UNSTORABLE
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey

logger = logging.getLogger(__name__)

PARTNER = frozenset({"partner"})
MEMBER = frozenset({"member"})
OPERATOR = frozenset({"operator"})


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


def require(info: Any, kinds: frozenset[str], scope: str | None = None) -> Principal:
    """The caller of a query resolver, if it may call it (else PermissionError,
    which the error middleware types as ``permission_denied``)."""
    principal = principal_of(info)
    problem = permission_problem(principal, kinds, scope)
    if problem:
        raise PermissionError(problem)
    return principal


def partner_id_of(principal: Principal) -> int:
    """The partner of a partner key (the permission check let only those through)."""
    if principal.partner_id is None:
        raise PermissionError("partner credentials are required")
    return principal.partner_id


def member_id_of(principal: Principal) -> int:
    """The member of a member token (the permission check let only those through)."""
    if principal.member_id is None:
        raise PermissionError("a member token is required")
    return principal.member_id


class Call:
    """What ``perform`` gets besides the arguments: the resolver's ``info``, the
    caller, and the client's idempotency key."""

    def __init__(self, info: Any, principal: Principal, key: str | None) -> None:
        self.info = info
        self.principal = principal
        self.key = key

    @property
    def idempotency(self) -> IdempotencyKey | None:
        """The key in the caller's scope, so two callers' "k1" never collide.
        Built on use: an invalid key is a typed error of the operation."""
        return IdempotencyKey(self.principal.idempotency_scope, self.key) if self.key else None


class LoyaltyMutation(graphene.Mutation):
    """Subclasses set ``allowed`` and ``scope``, declare ``Arguments`` and implement
    ``perform``; ``idempotencyKey`` is added to their arguments here."""

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(Error), required=True)

    allowed: ClassVar[frozenset[str]] = PARTNER
    scope: ClassVar[str | None] = None

    @classmethod
    def __init_subclass_with_meta__(cls, **options: Any) -> None:
        declared = getattr(cls, "Arguments", None)
        arguments = {
            **(props(declared) if declared else {}),
            "idempotency_key": graphene.String(required=True),
        }
        # sorted by name, as graphene lists a declared ``Arguments`` class
        arguments = dict(sorted(arguments.items()))
        super().__init_subclass_with_meta__(arguments=arguments, **options)

    @classmethod
    def perform(cls, call: Call, **arguments: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def mutate(cls, root: Any, info: Any, **arguments: Any) -> Any:
        principal = principal_of(info)
        problem = permission_problem(principal, cls.allowed, cls.scope)
        if problem:
            return cls(errors=[api_error("permission_denied", problem)])
        call = Call(info, principal, arguments.pop("idempotency_key", None))
        try:
            payload = cls.perform(call, **arguments)
        except DomainError as exc:
            return cls(errors=[error_of(exc)])
        except (ValueError, TypeError, OverflowError) as exc:
            logger.info("invalid input to %s: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", str(exc))])
        except DataError as exc:
            logger.info("input to %s the database cannot store: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", UNSTORABLE)])
        return cls(errors=[], **payload)
