"""The HTTP endpoint: request size limit, authentication, tenant/host agreement,
per-key rate limiting, then graphene with our validation rules.

Every answer is JSON, and every error in it carries ``extensions.code``: a
malformed envelope (a query that is not a string, variables that are not an
object, JSON nested too deeply, a batched array, an oversized body) is a typed
4xx before anything runs, and a database that cannot be reached is a 503
``service_unavailable`` with ``Retry-After``, never an HTML page or an
``internal`` error.

Apps send the same few documents over and over (only the variables change), so a
document is parsed and validated once per process and kept (bounded LRU, keyed by
the schema, the text, whether the caller is anonymous and the limits in force): validation no
longer costs a purchase more than its execution does."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView
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
from loyalty_graphql.limits import (
    MAX_TOKENS,
    PARSE_FAILED,
    VALIDATION_FAILED,
    cost_budget,
    cost_depends_on_variables,
    limit_rules,
    limits_in_force,
    operation_cost,
    over_budget,
    over_rate_limit,
    validation_rules,
    with_code,
)
from loyalty_graphql.middleware import UNAVAILABLE
from loyalty_graphql.variables import CompiledVariablesContext
from loyalty_kernel.tenancy import current_tenant

logger = logging.getLogger(__name__)

# What a request meets when PostgreSQL is down, restarting or dropped the
# connection: the client should retry shortly (every mutation is idempotent).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
SERVICE_UNAVAILABLE = "service_unavailable"
RETRY_AFTER_SECONDS = 5
# Variables nested deeper than this are refused: no input type of the schema
# comes close, and deep values cost recursion wherever they are walked.
MAX_VARIABLES_DEPTH = 32


def http_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status=status,
        headers=headers,
    )


def service_unavailable() -> JsonResponse:
    return http_error(
        503, SERVICE_UNAVAILABLE, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


class RequestRefused(Exception):
    """Answer the request with this typed error, at once."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.response = http_error(status, code, message, headers or None)


def refuse(message: str, status: int = 400, code: str = "invalid_input") -> NoReturn:
    raise RequestRefused(status, code, message)


class DatabaseUnavailable(Exception):
    """A resolver met a database that cannot be reached: the whole answer is a 503."""


def host_problem(principal: Principal) -> str | None:
    tenant = current_tenant()
    on_public = getattr(tenant, "schema_name", "public") == "public"
    if principal.kind == "partner" and (on_public or tenant.pk != principal.partner_id):
        return "this API key belongs to another partner's host"
    if principal.kind in {"operator", "member"} and not on_public:
        return f"{principal.kind} credentials are used on the coalition host"
    return None


def _body_size_problem(request: HttpRequest) -> str | None:
    """Checked from the Content-Length header before the body is read: Django
    refuses to read a body past DATA_UPLOAD_MAX_MEMORY_SIZE with its own HTML 400."""
    limit = settings.LOYALTY_GRAPHQL_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        refuse("the Content-Length header is not a number")
    if declared > limit:
        return f"request body too large (at most {limit} bytes)"
    try:
        size = len(request.body or b"")
    except RequestDataTooBig:
        return "request body too large"
    if size > limit:
        return f"request body too large (at most {limit} bytes)"
    return None


def _depth(value: Any) -> int:
    """How deeply a decoded JSON value nests (iteratively: it may be deep)."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_VARIABLES_DEPTH:
            return deepest
        # Only containers go on the stack: a receipt's scalars are most of its values.
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        refuse(f"{what} nests too deeply")
    except ValueError:
        refuse(f"{what} is not valid JSON")


# When introspection is off, messages must not reveal names from the schema.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _without_suggestions(error: GraphQLError) -> GraphQLError:
    if settings.LOYALTY_GRAPHQL_INTROSPECTION or "Did you mean" not in error.message:
        return error
    message = _SUGGESTION.sub("", error.message)
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path,
        error.original_error, error.extensions,
    )  # fmt: skip


# Documents longer than this are validated every time rather than cached (they
# are rare, and an attacker must not fill the cache with huge ones).
CACHEABLE_DOCUMENT_CHARS = 8_000


@dataclass(frozen=True)
class CheckedDocument:
    document: DocumentNode | None  # None: it did not parse
    errors: tuple[GraphQLError, ...]
    variable_cost: bool  # page sizes come from variables: pay for them per request


@lru_cache(maxsize=512)
def _checked_document(
    schema: GraphQLSchema, query: str, anonymous: bool, limits: tuple[Any, ...]
) -> CheckedDocument:
    """Parse and validate once; ``limits`` is part of the key so a change of the
    settings behind the rules (tests override them) is never served stale.

    The cheap limits (depth, aliases, root fields, cost) run first, and a
    document they refuse is not validated further: the standard rules cost time
    proportional to the document's size, or worse."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        return CheckedDocument(None, (with_code(exc, PARSE_FAILED),), False)
    except RecursionError:
        nested = GraphQLError("the document nests too deeply", extensions={"code": PARSE_FAILED})
        return CheckedDocument(None, (nested,), False)
    hide = not settings.LOYALTY_GRAPHQL_INTROSPECTION
    errors = validate(schema, document, limit_rules(anonymous), hide_suggestions=hide)
    if not errors:
        errors = validate(
            schema,
            document,
            validation_rules(),
            graphene_settings.MAX_VALIDATION_ERRORS,
            hide_suggestions=hide,
        )
    typed = tuple(_without_suggestions(with_code(error, VALIDATION_FAILED)) for error in errors)
    return CheckedDocument(document, typed, cost_depends_on_variables(document))


def checked_document(schema: GraphQLSchema, query: str, anonymous: bool) -> CheckedDocument:
    if len(query) > CACHEABLE_DOCUMENT_CHARS:
        return _checked_document.__wrapped__(schema, query, anonymous, ())
    return _checked_document(schema, query, anonymous, limits_in_force())


# graphene-django wraps its dispatch in ensure_csrf_cookie (method_decorator keeps
# the plain function as __wrapped__).
_undecorated_dispatch = GraphQLView.dispatch.__wrapped__


class LoyaltyGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return self._dispatch(request, *args, **kwargs)
        except RequestRefused as refused:
            return refused.response
        except (*DATABASE_UNAVAILABLE, DatabaseUnavailable) as exc:
            logger.warning("database unavailable for %s: %s", request.path, exc)
            return service_unavailable()

    def _dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in {"GET", "POST"}:
            raise RequestRefused(
                405, "method_not_allowed", "GraphQL takes GET and POST requests", Allow="GET, POST"
            )
        too_large = _body_size_problem(request)
        if too_large:
            return http_error(413, "invalid_input", too_large)
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

    def parse_body(self, request: HttpRequest) -> Any:
        """graphene-django's, with typed refusals: one JSON object per request."""
        content_type = self.get_content_type(request)
        if content_type == "application/graphql":
            try:
                return {"query": request.body.decode("utf-8")}
            except UnicodeDecodeError:
                refuse("the body is not UTF-8")
        if content_type != "application/json":
            return super().parse_body(request)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            refuse("the body is not UTF-8")
        data = _json(text, "the body")
        if isinstance(data, list):
            refuse(
                "batched requests (a JSON array) are not supported: send one operation per request"
            )
        if not isinstance(data, dict):
            refuse('the body must be a JSON object such as {"query": "..."}')
        return data

    @staticmethod
    def get_graphql_params(request: HttpRequest, data: Any) -> tuple[Any, Any, Any, Any]:
        """graphene-django's, checking each member's type (the body is the client's)."""
        query = request.GET.get("query") or data.get("query")
        if query is not None and not isinstance(query, str):
            refuse("query must be a string")
        variables = request.GET.get("variables") or data.get("variables")
        if isinstance(variables, str):
            variables = _json(variables, "variables") if variables.strip() else None
        if variables is not None and not isinstance(variables, dict):
            refuse("variables must be a JSON object")
        if variables and _depth(variables) > MAX_VARIABLES_DEPTH:
            refuse("variables nest too deeply")
        operation_name = request.GET.get("operationName") or data.get("operationName")
        if operation_name == "null":
            operation_name = None
        if operation_name is not None and not isinstance(operation_name, str):
            refuse("operationName must be a string")
        return query, variables, operation_name, data.get("id")

    def execute_graphql_request(
        self,
        request: HttpRequest,
        data: Any,
        query: str | None,
        variables: Any,
        operation_name: str | None,
        show_graphiql: bool = False,
    ) -> ExecutionResult | None:
        """graphene-django's, with the parsed and validated document cached and
        every error typed."""
        if not query:
            if show_graphiql:
                return None
            refuse("Must provide query string.")
        schema = self.schema.graphql_schema
        schema_errors = validate_schema(schema)  # computed once, then memoised
        if schema_errors:
            return ExecutionResult(data=None, errors=list(schema_errors))
        principal = getattr(request, "principal", None)
        anonymous = principal is None or principal.kind == "anonymous"
        checked = checked_document(schema, query, anonymous)
        document = checked.document
        if document is None:
            return ExecutionResult(errors=list(checked.errors))
        operation = get_operation_ast(document, operation_name)
        if (
            request.method == "GET"
            and operation is not None
            and operation.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise RequestRefused(
                405,
                "method_not_allowed",
                f"Can only perform a {operation.operation.value} operation from a POST request.",
                Allow="POST",
            )
        if checked.errors:
            return ExecutionResult(data=None, errors=list(checked.errors))
        if checked.variable_cost and operation is not None:
            cost = operation_cost(schema, document, operation, variables, anonymous)
            budget = cost_budget(anonymous)
            if cost > budget:
                return ExecutionResult(data=None, errors=[over_budget(cost, budget, operation)])
        try:
            result = execute(
                schema,
                document,
                root_value=self.get_root_value(request),
                context_value=self.get_context(request),
                variable_values=variables,
                operation_name=operation_name,
                middleware=self.get_middleware(request),
                hide_suggestions=not settings.LOYALTY_GRAPHQL_INTROSPECTION,
                execution_context_class=CompiledVariablesContext,
            )
        except DATABASE_UNAVAILABLE:
            raise
        except Exception:  # as graphene-django: an error result, never a 500
            logger.exception("GraphQL execution failed")
            return ExecutionResult(
                errors=[GraphQLError("internal error", extensions={"code": "internal"})]
            )
        if not isinstance(result, ExecutionResult):  # no async resolvers here
            raise TypeError(f"execute returned {type(result).__name__}")
        if result.errors:
            result.errors = [_typed(error) for error in result.errors]
            if any(
                e.extensions and e.extensions["code"] == SERVICE_UNAVAILABLE for e in result.errors
            ):
                raise DatabaseUnavailable("a resolver could not reach the database")
        return result


def _typed(error: GraphQLError) -> GraphQLError:
    """Every execution error with a code and without internals. Errors from
    resolvers are typed by TypedErrorMiddleware already; what is left comes from
    graphql-core itself: variables that do not fit their types (no path: the
    client's input), or an exception met while completing a value (a lazy
    queryset evaluated after its resolver returned: the database may be down)."""
    if error.extensions and error.extensions.get("code"):
        return error
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        if isinstance(original, DATABASE_UNAVAILABLE):
            code, message = SERVICE_UNAVAILABLE, UNAVAILABLE
        else:
            logger.error("unexpected error completing %s", error.path, exc_info=original)
            code, message = "internal", "internal error"
        return GraphQLError(message, error.nodes, None, None, error.path, extensions={"code": code})
    return _without_suggestions(with_code(error, "invalid_input" if not error.path else "internal"))
