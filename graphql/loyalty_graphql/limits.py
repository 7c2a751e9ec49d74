"""Safety limits of the API: what a document may cost, how often a caller may
call, and the typed codes of refused documents.

Documents. Before GraphQL's standard validation runs, a document is checked
against limits that make it cheap to refuse: its depth, the number of aliases
and of root fields, and its cost. The cost is computed from a per-field cost
map (``FIELD_COSTS``, like Saleor's: aggregates such as ``liability``,
``livePosition``, statements and history cost what their SQL costs), multiplied
by the page size of the list a field sits in (``first``/``last``, or a
variable: its value), and counted once per alias. Anonymous callers get a far
smaller budget than callers with credentials, and pay 1 for a root field that
is not open to them (it is refused before it does any work, with the typed
``permission_denied`` the caller needs to see). Every refusal carries a typed
``extensions.code``; field suggestions ("Did you mean ...") are left out when
introspection is off, so they cannot reveal the schema.

Rate. ``over_rate_limit`` counts requests per caller in one-second windows in
the shared cache (Redis when configured). When the cache is unreachable it
fails open to a per-process count at the same limit, logging once a minute,
so that Redis being down never takes the API down.

The module is longer than 500 lines because the per-field cost map (a line per
costly field) sits next to the rules that apply it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
    specified_rules,
)
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100

# Typed codes (``extensions.code``) of documents refused before they run.
PARSE_FAILED = "graphql_parse_failed"
VALIDATION_FAILED = "graphql_validation_failed"
TOO_COMPLEX = "query_too_complex"
DOCUMENT_CODES = (PARSE_FAILED, VALIDATION_FAILED, TOO_COMPLEX)

# The parser stops after this many tokens: a real document has a few hundred,
# and a refusal by the parser costs less than building a huge tree.
MAX_TOKENS = 20_000


def page_size(first: int | None, default: int = 20) -> int:
    """The page size a connection serves: the client's ``first``, capped."""
    if first is None:
        return default
    if first < 1:
        raise ValueError("first must be at least 1")
    return min(first, MAX_PAGE_SIZE)


# --- the cost map -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldCost:
    """What resolving a field costs, in units of one plain field (an attribute
    read); a field that runs SQL costs about 10, an aggregate over the ledger or
    a period's entries hundreds. ``items`` is how many items a list without a
    page size serves at most (its sub-fields are paid that many times); a list
    with ``first``/``last`` is paid for its page size instead. ``public`` root
    fields answer callers without credentials; for them, any other root field
    costs 1 (its resolver refuses them before doing any work)."""

    cost: int
    items: int = 1
    page_default: int | None = None  # the page size when ``first``/``last`` is omitted
    public: bool = False


QUERY = FieldCost(10)
# Every root field of both schemas is listed (a test enforces it), so a new
# operation gets a deliberate cost; other fields cost 1 unless listed.
FIELD_COSTS: dict[tuple[str, str], FieldCost] = {
    # the public host
    ("CoalitionQuery", "partners"): FieldCost(10, items=50, public=True),
    ("CoalitionQuery", "me"): QUERY,
    ("CoalitionQuery", "catalogue"): FieldCost(20, page_default=20, public=True),
    ("CoalitionQuery", "liability"): FieldCost(500, items=20),
    ("CoalitionQuery", "periods"): FieldCost(20, page_default=12),
    ("CoalitionQuery", "charityStatements"): FieldCost(200, page_default=12),
    # three statements (the period, its obligations, its transfers) with the partners
    ("CoalitionQuery", "netting"): FieldCost(30),
    ("CoalitionQuery", "myTransferAllowance"): QUERY,
    ("CoalitionQuery", "myHousehold"): QUERY,
    ("CoalitionQuery", "myHouseholdInvites"): QUERY,
    # one statement over every partner's vouchers, a row per voucher on the page
    ("CoalitionQuery", "myVouchers"): FieldCost(10, page_default=20),
    # one statement; a row per kind of e-mail (four)
    ("CoalitionQuery", "myEmailChoices"): FieldCost(10, items=4),
    # a partner's host
    ("PartnerQuery", "partner"): FieldCost(1, public=True),
    ("PartnerQuery", "stores"): FieldCost(10, items=50, public=True),
    ("PartnerQuery", "member"): QUERY,
    ("PartnerQuery", "purchasePreview"): FieldCost(50, items=20),
    ("PartnerQuery", "rewards"): FieldCost(10, items=MAX_PAGE_SIZE),
    ("PartnerQuery", "voucher"): QUERY,
    ("PartnerQuery", "statements"): FieldCost(100, page_default=12),
    ("PartnerQuery", "livePosition"): FieldCost(500, items=20),
    ("PartnerQuery", "liability"): FieldCost(200),
    ("PartnerQuery", "webhookEndpoints"): FieldCost(10, items=50),
    ("PartnerQuery", "webhookDeliveries"): FieldCost(20, page_default=20),
    ("PartnerQuery", "ruleVersions"): FieldCost(20, items=20),
    ("PartnerQuery", "ruleVersion"): QUERY,
    ("PartnerQuery", "campaigns"): FieldCost(20, page_default=20),
    # a member, on either host
    ("MemberView", "balance"): FieldCost(5),
    ("MemberView", "tier"): FieldCost(5),
    ("MemberView", "lots"): FieldCost(20, page_default=20),
    ("MemberView", "history"): FieldCost(50, page_default=20),
    # lists inside results
    ("StatementView", "lines"): FieldCost(1, items=20),
    ("LiabilityView", "lines"): FieldCost(1, items=50),
    # a pair per issuer and redeemer that traded; at most n - 1 transfers per currency
    ("NettingView", "obligations"): FieldCost(1, items=100),
    ("NettingView", "transfers"): FieldCost(1, items=50),
    ("PointsBreakdown", "contributions"): FieldCost(1, items=50),
    ("CharityStatementView", "months"): FieldCost(1, items=12),
    ("PeriodView", "coalitionMargin"): FieldCost(1, items=5),
    ("WebhookEndpointView", "events"): FieldCost(1, items=5),
    ("HouseholdView", "members"): FieldCost(1, items=6),  # MAX_HOUSEHOLD_MEMBERS
    ("HouseholdView", "pendingInvites"): FieldCost(1, items=20),
    ("RuleVersionView", "rules"): FieldCost(1, items=50),
    ("CampaignView", "tiers"): FieldCost(1, items=10),
    ("CampaignView", "segments"): FieldCost(1, items=10),
    ("RewardSettingsView", "channels"): FieldCost(1, items=3),
    ("PayOutPeriod", "payouts"): FieldCost(1, items=100),  # a statement per partner
    # closing a period and paying it out touch every partner (and Stripe)
    ("CoalitionMutation", "closePeriod"): FieldCost(1000),
    ("CoalitionMutation", "payOutPeriod"): FieldCost(1000),
    # members' apps sign in before they hold a token
    ("CoalitionMutation", "startMemberSignIn"): FieldCost(50, public=True),
    ("CoalitionMutation", "completeMemberSignIn"): FieldCost(50, public=True),
}
# Any other mutation: a transaction with a few statements.
MUTATION = FieldCost(50)
ROOT_TYPES = ("CoalitionQuery", "PartnerQuery", "CoalitionMutation", "PartnerMutation")


def field_cost(parent: str, field: str, is_mutation_root: bool) -> FieldCost:
    found = FIELD_COSTS.get((parent, field))
    if found is not None:
        return found
    if is_mutation_root:
        return MUTATION
    return FieldCost(1)


def _page_argument(node: FieldNode, variables: dict[str, Any] | None) -> int | None:
    """The page size a field asks for: ``first``/``last`` capped and at least 1
    (a negative size must not offset a sibling's cost), or None when it gives
    none (the resolver's default applies). A variable counts as 1 while the
    document is validated (``variables`` None: the least it can cost), and as its
    value once the request's variables are known."""
    for argument in node.arguments or ():
        if argument.name.value not in {"first", "last"}:
            continue
        value: Any = MAX_PAGE_SIZE  # anything but an integer is refused by validation
        if isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            if variables is None:
                return 1
            value = variables.get(argument.value.name.value)
            if value is None:
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                value = MAX_PAGE_SIZE
        return max(1, min(value, MAX_PAGE_SIZE))
    return None


class _Measurer:
    """Walks an operation's selections with their types. A fragment's cost is
    computed once per type it is spread on (cost is linear in the multiplier),
    so a document spreading fragments into each other many times is measured in
    time proportional to its size, not to its expansion."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        anonymous: bool,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.anonymous = anonymous
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self._fragment_costs: dict[tuple[str, bool, int | None], int] = {}
        self._fragment_depths: dict[str, int] = {}
        self._in_progress: set[str] = set()

    def operation_cost(self, operation: OperationDefinitionNode) -> int:
        is_mutation = operation.operation == OperationType.MUTATION
        root = self.schema.mutation_type if is_mutation else self.schema.query_type
        return self.unit_cost(operation.selection_set, root, is_mutation, 0)

    def unit_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
        mutation_root: bool, depth: int, page: int | None = None,
    ) -> int:  # fmt: skip
        """The cost of a selection set under a multiplier of 1; ``page`` is the
        page size of the connection it belongs to, paid by its list (``edges``)."""
        if selection_set is None or depth > settings.LOYALTY_GRAPHQL_MAX_DEPTH + 1:
            return 0  # deeper than the depth limit: refused by that rule
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, mutation_root, depth, page)
            elif isinstance(selection, InlineFragmentNode):
                inner = parent
                if selection.type_condition is not None:
                    inner = self.schema.get_type(selection.type_condition.name.value)
                total += self.unit_cost(selection.selection_set, inner, mutation_root, depth, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread_cost(selection.name.value, mutation_root, depth, page)
        return total

    def _field_cost(
        self, node: FieldNode, parent: GraphQLNamedType | None, mutation_root: bool, depth: int,
        connection_page: int | None,
    ) -> int:  # fmt: skip
        """A field's own cost, plus its sub-fields' times the items it serves: a
        list serves its page (its own ``first``/``last``, its connection's, or
        the map's default), anything else one item."""
        name = node.name.value
        if name.startswith("__"):
            return 1
        definition = None
        if isinstance(parent, GraphQLObjectType):
            definition = parent.fields.get(name)
        parent_name = parent.name if parent is not None else ""
        cost = field_cost(parent_name, name, mutation_root)
        if self.anonymous and parent_name in ROOT_TYPES and not cost.public:
            return 1
        page = _page_argument(node, self.variables)
        if page is None:
            page = cost.page_default
        field_type = get_named_type(definition.type) if definition is not None else None
        if definition is not None and is_list_type(get_nullable_type(definition.type)):
            items = page or connection_page or cost.items
            inner = self.unit_cost(node.selection_set, field_type, False, depth + 1)
            return cost.cost + items * inner
        # a connection: its page is paid by its list of edges, not by pageInfo
        return cost.cost + self.unit_cost(node.selection_set, field_type, False, depth + 1, page)

    def _spread_cost(self, name: str, mutation_root: bool, depth: int, page: int | None) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0  # unknown or cyclic: refused by the standard rules
        key = (name, mutation_root, page)
        if key not in self._fragment_costs:
            self._in_progress.add(name)
            parent = self.schema.get_type(fragment.type_condition.name.value)
            self._fragment_costs[key] = self.unit_cost(
                fragment.selection_set, parent, mutation_root, depth, page
            )
            self._in_progress.discard(name)
        return self._fragment_costs[key]

    def depth(self, selection_set: SelectionSetNode | None, level: int = 0) -> int:
        """How deep the fields go below this selection set (root fields are at
        0, as graphene counts), looking no further than just past the limit;
        a fragment is measured once (graphene's own depth rule expands every
        spread, which a document of fragments spread twice into each other
        turns into billions of steps)."""
        if selection_set is None or level > settings.LOYALTY_GRAPHQL_MAX_DEPTH:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                # introspection (``__schema``, ``__type``) is not counted, as graphene
                # does not: GraphiQL's own query nests types eight deep; it is cheap
                if selection.selection_set is not None and not selection.name.value.startswith(
                    "__"
                ):
                    deepest = max(deepest, 1 + self.depth(selection.selection_set, level + 1))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set, level))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment_depth(selection.name.value, level))
        return deepest

    def _fragment_depth(self, name: str, level: int) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0  # unknown or cyclic: refused by the standard rules
        if name not in self._fragment_depths:
            self._in_progress.add(name)
            self._fragment_depths[name] = self.depth(fragment.selection_set, level)
            self._in_progress.discard(name)
        return self._fragment_depths[name]

    def root_fields(self, selection_set: SelectionSetNode, seen: frozenset[str]) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self.root_fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in seen:
                    count += self.root_fields(fragment.selection_set, seen | {fragment.name.value})
        return count


def _fields(document: DocumentNode) -> tuple[int, int, bool]:
    """Field nodes and aliased ones anywhere in the document (fragments included,
    once each), and whether a page size is given by a variable."""
    fields = aliases = 0
    variable_pages = False
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            fields += 1
            aliases += node.alias is not None
            variable_pages = variable_pages or any(
                argument.name.value in {"first", "last"}
                and isinstance(argument.value, VariableNode)
                for argument in node.arguments or ()
            )
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return fields, aliases, variable_pages


def _variable_values(
    operation: OperationDefinitionNode, variables: dict[str, Any] | None
) -> dict[str, Any]:
    """The request's variables over the operation's integer defaults."""
    values: dict[str, Any] = {
        definition.variable.name.value: int(definition.default_value.value)
        for definition in operation.variable_definitions or ()
        if isinstance(definition.default_value, IntValueNode)
    }
    values.update(variables or {})
    return values


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    anonymous: bool,
) -> int:
    """The cost of running ``operation`` with these variables for this caller."""
    measurer = _Measurer(schema, document, _variable_values(operation, variables), anonymous)
    return measurer.operation_cost(operation)


def over_budget(cost: int, budget: int, node: Any = None) -> GraphQLError:
    return too_complex(f"query cost {cost} exceeds the limit of {budget}", node)


def complexity_rule(anonymous: bool) -> type[ValidationRule]:
    """A rule refusing documents over the alias cap, and operations over the root
    field cap or whose least possible cost is over ``budget`` (code
    ``query_too_complex``). Page sizes given by variables are paid for again
    once the request's values are known (``operation_cost``)."""
    budget = cost_budget(anonymous)

    class ComplexityRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            fields, aliases, _ = _fields(node)
            limit = settings.LOYALTY_GRAPHQL_MAX_ALIASES
            if aliases > limit:
                self.report_error(
                    too_complex(f"the document has {aliases} aliases; at most {limit} are allowed")
                )
            if fields > budget:  # each field costs at least 1, wherever it is
                self.report_error(over_budget(fields, budget))

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            measurer = _Measurer(self.context.schema, self.context.document, None, anonymous)
            try:
                depth = measurer.depth(node.selection_set)
                roots = measurer.root_fields(node.selection_set, frozenset())
                cost = measurer.operation_cost(node)
            except RecursionError:  # fragments spread into each other thousands deep
                self.report_error(too_complex("the document nests fragments too deeply", node))
                return
            max_depth = settings.LOYALTY_GRAPHQL_MAX_DEPTH
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    too_complex(f"'{name}' exceeds maximum operation depth of {max_depth}", node)
                )
                return  # its cost was measured no deeper than the limit
            root_limit = settings.LOYALTY_GRAPHQL_MAX_ROOT_FIELDS
            if roots > root_limit:
                self.report_error(
                    too_complex(
                        f"the operation selects {roots} root fields; at most {root_limit}", node
                    )
                )
            if cost > budget:
                self.report_error(over_budget(cost, budget, node))

    return ComplexityRule


def cost_depends_on_variables(document: DocumentNode) -> bool:
    return _fields(document)[2]


def too_complex(message: str, node: Any = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": TOO_COMPLEX})


def limit_rules(anonymous: bool) -> list[Any]:
    """The cheap rules, run before the standard ones: depth, aliases, root
    fields, cost. A document they refuse is not validated further."""
    return [complexity_rule(anonymous)]


def validation_rules() -> list[Any]:
    """GraphQL's standard rules (and no introspection when it is switched off)."""
    rules: list[Any] = [*specified_rules]
    if not settings.LOYALTY_GRAPHQL_INTROSPECTION:
        # __schema and __type only: graphene's DisableIntrospection also refuses
        # __typename, which Apollo and Relay clients add to every selection
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def cost_budget(anonymous: bool) -> int:
    return (
        settings.LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST
        if anonymous
        else settings.LOYALTY_GRAPHQL_MAX_COST
    )


def limits_in_force() -> tuple[Any, ...]:
    """The settings the validation rules depend on (a cache key for documents)."""
    return (
        settings.LOYALTY_GRAPHQL_MAX_DEPTH,
        settings.LOYALTY_GRAPHQL_MAX_COST,
        settings.LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST,
        settings.LOYALTY_GRAPHQL_MAX_ALIASES,
        settings.LOYALTY_GRAPHQL_MAX_ROOT_FIELDS,
        settings.LOYALTY_GRAPHQL_INTROSPECTION,
    )


def with_code(error: GraphQLError, code: str) -> GraphQLError:
    """``error`` with ``extensions.code`` set to ``code`` unless it has one."""
    if error.extensions and error.extensions.get("code"):
        return error
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        {**(error.extensions or {}), "code": code},
    )


# --- rate ------------------------------------------------------------------------------------

# After the shared cache fails, the next this many seconds use the per-process
# count without trying it (a cache that hangs must not slow every request).
CACHE_RETRY_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0


class LocalWindows:
    """Per-process one-second windows: the fallback when the shared cache is down.
    Each process counts on its own, so the effective limit is per process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._second = 0
        self._counts: dict[str, int] = {}
        self._cache_down_until = 0.0
        self._logged_at: float | None = None

    def count(self, key: str, second: int) -> int:
        with self._lock:
            if second != self._second:
                self._second, self._counts = second, {}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def cache_usable(self) -> bool:
        return self._clock() >= self._cache_down_until

    def cache_failed(self, exc: Exception) -> None:
        now = self._clock()
        self._cache_down_until = now + CACHE_RETRY_SECONDS
        with self._lock:
            if self._logged_at is not None and now - self._logged_at < LOG_EVERY_SECONDS:
                return
            self._logged_at = now
        logger.warning(
            "rate limit cache unreachable (%s: %s); limiting per process until it is back",
            type(exc).__name__, exc,
        )  # fmt: skip


local_windows = LocalWindows()


WINDOW_TTL_SECONDS = 2  # a window's count outlives its second, then goes

_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
# OPTIONS that Django's Redis cache takes for itself; the rest go to the pool
_CACHE_OWN_OPTIONS = ("pool_class", "parser_class", "serializer")
# (the CACHES["default"] it was made for, the client or None): a changed CACHES is
# a new dict (override_settings), so a stale client is never used
_redis_client_for: tuple[Any, Any] = (None, None)


def _redis_client() -> Any:
    """A redis-py client on the shared cache's server when it is Django's Redis
    cache (its first location, the one it writes to, with its pool options), else
    None. Made once per cache configuration: redis-py's client and pool are safe
    across threads, and its pool reconnects after a fork. Two threads making the
    first one at once each make one; the last kept wins, the other is dropped."""
    global _redis_client_for
    config = settings.CACHES.get("default", {})
    made_for, client = _redis_client_for
    if made_for is config:
        return client
    client = None
    if config.get("BACKEND") == _REDIS_CACHE:
        import redis  # Django's Redis cache needs it too

        location = config.get("LOCATION") or ""
        first = (location.split(",") if isinstance(location, str) else list(location))[0]
        options = {
            name: value
            for name, value in (config.get("OPTIONS") or {}).items()
            if name not in _CACHE_OWN_OPTIONS
        }
        pool = redis.ConnectionPool.from_url(first.strip(), **options)
        client = redis.Redis(connection_pool=pool)
    _redis_client_for = (config, client)
    return client


def _shared_count(key: str, second: int) -> int:
    """This request's number in its window, counted in the shared cache. With
    Redis, one round trip (INCR and EXPIRE, pipelined): Django's cache API
    would take three (``add`` is a SET NX; its ``incr`` checks that the key
    exists first), and this runs on every request. The key is the cache's own
    (``make_key``), and the count a plain integer, as the cache API stores it."""
    window = f"ratelimit:{key}:{second}"
    client = _redis_client()
    if client is not None:
        redis_key = cache.make_key(window)
        pipeline = client.pipeline(transaction=False)
        pipeline.incr(redis_key)
        pipeline.expire(redis_key, WINDOW_TTL_SECONDS)
        count, _ = pipeline.execute()
        return int(count)
    cache.add(window, 0, timeout=WINDOW_TTL_SECONDS)
    try:
        return int(cache.incr(window))
    except ValueError:  # expired between add and incr
        cache.add(window, 1, timeout=WINDOW_TTL_SECONDS)
        return 1


def over_rate_limit(key: str) -> bool:
    """Fixed one-second windows in the shared cache (Redis when configured), or in
    this process while the cache is unreachable."""
    second = int(time.time())
    count = None
    if local_windows.cache_usable():
        try:
            count = _shared_count(key, second)
        except Exception as exc:  # any cache failure: the API stays up
            local_windows.cache_failed(exc)
    if count is None:
        count = local_windows.count(key, second)
    return count > settings.LOYALTY_API_RATE_LIMIT
