"""The one base class of every mutation, and the permission checks of resolvers.

A mutation declares who may call it (principal kinds and a scope), its
``Arguments`` (without the idempotency key: the base class adds
``idempotencyKey`` to every mutation) and implements ``perform``; the base class
checks permissions, answers a repeated key, turns domain errors into typed
``errors`` and never lets an unexpected exception leak its details. Resolvers
hold no business rules: ``perform`` calls services.

**The idempotency rule, for every mutation of both schemas.** Every mutation
takes a required ``idempotencyKey``, scoped to its caller (a partner, a member,
the operator), so two callers' "k1" never collide; a mutation open to anonymous
callers scopes it to what it acts on (``idempotency_key``). The first request with a key
acts and its answer is kept; the same key with the same input answers that
original answer again, whatever happened since (a balance spent, a voucher used,
an endpoint disabled), and acts no more; the same key with other input, or for
another mutation, answers IDEMPOTENCY_KEY_REUSED and changes nothing. Twins
racing with one key act once. A request that fails keeps nothing: its retry runs
again. Where the answer is kept is the mutation's ``replay`` (see ``Replay``).
"""

from __future__ import annotations

import enum
import logging
from typing import Any, ClassVar

import graphene
from django.db import DataError
from graphene.utils.props import props

from loyalty_graphql.answers import (
    Json,
    answer_after,
    answer_in_transaction,
    dump,
    fingerprint,
    load,
)
from loyalty_graphql.auth import Principal
from loyalty_graphql.errors import Error, api_error, error_of
from loyalty_graphql.middleware import UNSTORABLE
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey

logger = logging.getLogger(__name__)

PARTNER = frozenset({"partner"})
MEMBER = frozenset({"member"})
OPERATOR = frozenset({"operator"})
# Open to anyone who reaches the host, credentials or not (signing in).
ANYONE = frozenset({"anonymous", "member", "partner", "operator"})


def principal_of(info: Any) -> Principal:
    return getattr(info.context, "principal", None) or Principal("anonymous")


def permission_problem(
    principal: Principal, kinds: frozenset[str], scope: str | None
) -> str | None:
    if principal.kind == "anonymous" and principal.kind not in kinds:
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
    caller, and the client's idempotency key in the caller's scope."""

    def __init__(self, info: Any, principal: Principal, key: str) -> None:
        self.info = info
        self.principal = principal
        self.key = key

    @property
    def idempotency(self) -> IdempotencyKey:
        """Built on use: an invalid key (empty, too long) is a typed error."""
        return IdempotencyKey(self.principal.idempotency_scope, self.key)


class Replay(enum.Enum):
    """Where a mutation keeps the answer it gave for a key."""

    # In the generic table, in the operation's own transaction: the default.
    IN_TRANSACTION = "in_transaction"
    # In the generic table once the operation returned, racing twins held off by
    # a lock on the key: for operations that run their own transactions and are
    # safe to repeat (a period close, Stripe payouts).
    AFTER = "after"
    # The domain service stores its original answer and replays it itself, in its
    # own round trips (the purchase hot path: the generic table would add two).
    BY_SERVICE = "by_service"


class LoyaltyMutation(graphene.Mutation):
    """Subclasses set ``allowed`` and ``scope``, declare ``Arguments`` and implement
    ``perform``; ``idempotencyKey`` is added to their arguments here."""

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(Error), required=True)

    allowed: ClassVar[frozenset[str]] = PARTNER
    scope: ClassVar[str | None] = None
    replay: ClassVar[Replay] = Replay.IN_TRANSACTION

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
    def payload_fields(cls) -> dict[str, Any]:
        return {name: field for name, field in cls._meta.fields.items() if name != "errors"}

    @classmethod
    def stored_form(cls, payload: dict[str, Any]) -> Json:
        """The payload as it is kept (JSON); a mutation may keep less, or other."""
        return dump(cls.payload_fields(), payload)

    @classmethod
    def from_stored(cls, stored: Json) -> dict[str, Any]:
        return load(cls.payload_fields(), stored)

    @classmethod
    def fingerprinted(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        """The input as the request fingerprint sees it: a mutation whose input
        holds a set (in a list) says so here, so its order does not matter."""
        return arguments

    @classmethod
    def idempotency_key(cls, call: Call, arguments: dict[str, Any]) -> IdempotencyKey:
        """The client's key in its scope: the caller's, unless the mutation (open
        to anonymous callers, who have no scope of their own) says otherwise."""
        return call.idempotency

    @classmethod
    def answer(cls, call: Call, arguments: dict[str, Any]) -> dict[str, Any]:
        """The payload for this request: performed once per key, then replayed."""
        if cls.replay is Replay.BY_SERVICE:
            return cls.perform(call, **arguments)
        key = cls.idempotency_key(call, arguments)
        operation = call.info.field_name
        keep = answer_in_transaction if cls.replay is Replay.IN_TRANSACTION else answer_after
        stored = keep(
            key,
            operation=operation,
            digest=fingerprint(operation, cls.fingerprinted(arguments)),
            act=lambda: cls.stored_form(cls.perform(call, **arguments)),
        )
        # The first answer too is served from its stored form: a replay cannot differ.
        return cls.from_stored(stored)

    @classmethod
    def mutate(cls, root: Any, info: Any, **arguments: Any) -> Any:
        principal = principal_of(info)
        problem = permission_problem(principal, cls.allowed, cls.scope)
        if problem:
            return cls(errors=[api_error("permission_denied", problem)])
        call = Call(info, principal, arguments.pop("idempotency_key", ""))
        try:
            payload = cls.answer(call, arguments)
        except DomainError as exc:
            return cls(errors=[error_of(exc)])
        except (ValueError, TypeError, OverflowError) as exc:
            logger.info("invalid input to %s: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", str(exc))])
        except DataError as exc:
            logger.info("input to %s the database cannot store: %s", cls.__name__, exc)
            return cls(errors=[api_error("invalid_input", UNSTORABLE)])
        return cls(errors=[], **payload)
