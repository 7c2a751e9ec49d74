"""The HTTP endpoint: request size limit, authentication, tenant/host agreement,
per-key rate limiting, then graphene with our validation rules.

Apps send the same few documents over and over (only the variables change), so a
document is parsed and validated once per process and kept (bounded LRU, keyed by
the schema, the text and the limits in force): validation no longer costs a
purchase more than its execution does."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    JsonResponse,
)
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
    validate_schema,
)

from loyalty_graphql.auth import AuthenticationFailed, Principal, authenticate
from loyalty_graphql.limits import limits_in_force, validation_rules
from loyalty_kernel.tenancy import current_tenant


def http_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


def over_rate_limit(key: str) -> bool:
    """Fixed one-second windows in the shared cache (Redis when configured)."""
    window = f"ratelimit:{key}:{int(time.time())}"
    cache.add(window, 0, timeout=2)
    try:
        count = cache.incr(window)
    except ValueError:  # expired between add and incr
        cache.add(window, 1, timeout=2)
        count = 1
    return count > settings.LOYALTY_API_RATE_LIMIT


def host_problem(principal: Principal) -> str | None:
    tenant = current_tenant()
    on_public = getattr(tenant, "schema_name", "public") == "public"
    if principal.kind == "partner" and (on_public or tenant.pk != principal.partner_id):
        return "this API key belongs to another partner's host"
    if principal.kind in {"operator", "member"} and not on_public:
        return f"{principal.kind} credentials are used on the coalition host"
    return None


# Documents longer than this are validated every time rather than cached (they
# are rare, and an attacker must not fill the cache with huge ones).
CACHEABLE_DOCUMENT_CHARS = 8_000


@lru_cache(maxsize=512)
def _checked_document(
    schema: GraphQLSchema, query: str, limits: tuple[Any, ...]
) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
    """Parse and validate once; ``limits`` is part of the key so a change of the
    settings behind the rules (tests override them) is never served stale."""
    document = parse(query)
    errors = validate(schema, document, validation_rules(), graphene_settings.MAX_VALIDATION_ERRORS)
    return document, tuple(errors)


def checked_document(
    schema: GraphQLSchema, query: str
) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
    if len(query) > CACHEABLE_DOCUMENT_CHARS:
        return _checked_document.__wrapped__(schema, query, ())
    return _checked_document(schema, query, limits_in_force())


# graphene-django wraps its dispatch in ensure_csrf_cookie (method_decorator keeps
# the plain function as __wrapped__).
_undecorated_dispatch = GraphQLView.dispatch.__wrapped__


class LoyaltyGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if len(request.body or b"") > settings.LOYALTY_GRAPHQL_MAX_BODY_BYTES:
            return http_error(413, "invalid_input", "request body too large")
        try:
            principal = authenticate(request)
        except AuthenticationFailed as exc:
            return http_error(401, "unauthenticated", exc.message)
        problem = host_problem(principal)
        if problem:
            return http_error(403, "permission_denied", problem)
        limit_key = principal.rate_limit_key
        if principal.kind == "anonymous":
            limit_key = f"ip:{request.META.get('REMOTE_ADDR', '')}"
        if over_rate_limit(limit_key):
            return http_error(429, "rate_limited", "too many requests for this key; slow down")
        setattr(request, "principal", principal)  # noqa: B010 - read by resolvers
        if principal.kind != "anonymous":
            # graphene-django's dispatch sets a CSRF cookie on every answer, for
            # GraphiQL in a browser; apps calling with credentials never use it
            # (the endpoint is CSRF-exempt), so they skip the cookie's cost.
            return _undecorated_dispatch(self, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def execute_graphql_request(
        self,
        request: HttpRequest,
        data: Any,
        query: str | None,
        variables: Any,
        operation_name: str | None,
        show_graphiql: bool = False,
    ) -> ExecutionResult | None:
        """graphene-django's, with the parsed and validated document cached."""
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        schema_errors = validate_schema(schema)  # computed once, then memoised
        if schema_errors:
            return ExecutionResult(data=None, errors=list(schema_errors))
        try:
            document, errors = checked_document(schema, query)
        except GraphQLError as exc:
            return ExecutionResult(errors=[exc])
        operation = get_operation_ast(document, operation_name)
        if (
            request.method == "GET"
            and operation is not None
            and operation.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise HttpError(
                HttpResponseNotAllowed(
                    ["POST"], f"Can only perform a {operation.operation.value} operation "
                    "from a POST request.",
                )
            )  # fmt: skip
        if errors:
            return ExecutionResult(data=None, errors=list(errors))
        try:
            result = execute(
                schema,
                document,
                root_value=self.get_root_value(request),
                context_value=self.get_context(request),
                variable_values=variables,
                operation_name=operation_name,
                middleware=self.get_middleware(request),
            )
        except Exception as exc:  # as graphene-django: an error result, never a 500
            return ExecutionResult(errors=[GraphQLError(str(exc), original_error=exc)])
        assert isinstance(result, ExecutionResult)  # no async resolvers here
        return result
