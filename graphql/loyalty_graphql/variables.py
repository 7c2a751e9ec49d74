"""Variable coercion compiled once per document, with graphql-core's as the reference.

graphql-core coerces a request's variables by walking the input types generically:
for every value it asks again whether the type is non-null, a list, an input object
or a leaf, builds a path, and first walks the whole value once more to check its
depth. A till sends the same ``recordPurchase`` document all day with only the
variables changing, and a five-line receipt is some 60 values: in the demo workload
that walk was the largest single cost of a purchase in Python, larger than the
earning rules.

Here the walk is compiled, per operation, into one plain function per input type
(kept while the document is). A compiled coercer only takes the road on which
graphql-core would raise no error, and gives exactly what graphql-core gives on it
(the same defaults, ``out_name`` keys and ``out_type`` containers, lists of one for
a bare value). The moment anything is off (a missing or null required value, a
field the type does not define, a scalar that does not parse, a value nested
deeper than the types allow, a oneOf input) it gives up, and graphql-core's own
coercion runs on the untouched input, so every error, its message and its path
are graphql-core's. ``tests/loyalty_graphql/test_variables.py`` holds the two to
the same answers.

The hook is ``CompiledVariablesContext``, graphql-core's own extension point
(``execute(execution_context_class=...)``): its ``build`` hands graphql-core a copy
of the document whose operation declares no variables, so graphql-core picks the
operation, gathers the fragments and builds the context as it always does, and
then puts back the real operation and the compiled result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionContext,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    get_operation_ast,
    is_input_type,
    type_from_ast,
    value_from_ast,
)
from graphql.pyutils import is_iterable

Coercer = Callable[[Any], Any]


class _GiveUp(Exception):
    """Not a value the compiled road takes: graphql-core's coercion decides."""


def _null_or(core: Coercer, *, required: bool) -> Coercer:
    """A null (or absent) value is null, unless the type is non-null."""

    def coerce(value: Any) -> Any:
        if value is None or value is Undefined:
            if required:
                raise _GiveUp
            return None
        return core(value)

    return coerce


def _list(item: Coercer) -> Coercer:
    def coerce(value: Any) -> Any:
        if is_iterable(value):
            return [item(each) for each in value]
        return [item(value)]  # a bare value is a list of one

    return coerce


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Coercer:
    parse = type_.parse_value

    def coerce(value: Any) -> Any:
        try:
            parsed = parse(value)
        except Exception as exc:  # graphql-core words it
            raise _GiveUp from exc
        if parsed is Undefined:
            raise _GiveUp
        return parsed

    return coerce


def _input_object(
    type_: GraphQLInputObjectType, compiled: dict[str, Coercer], open_: set[str]
) -> Coercer:
    # (name, key in the result, coercer, default or Undefined, required)
    fields: list[tuple[str, str, Coercer, Any, bool]] = []
    names: frozenset[str] = frozenset(type_.fields)
    out_type = type_.out_type

    def coerce(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _GiveUp
        for name in value:
            if name not in names:
                raise _GiveUp
        result: dict[str, Any] = {}
        for name, key, field_coercer, default, required in fields:
            field_value = value.get(name, Undefined)
            if field_value is Undefined:
                if default is not Undefined:
                    result[key] = default
                elif required:
                    raise _GiveUp
                continue
            result[key] = field_coercer(field_value)
        return out_type(result)

    open_.add(type_.name)
    for name, field in type_.fields.items():
        fields.append(
            (
                name,
                field.out_name or name,
                _compile(field.type, compiled, open_),
                field.default_value,
                isinstance(field.type, GraphQLNonNull),
            )
        )
    open_.discard(type_.name)
    compiled[type_.name] = coerce
    return coerce


def _compile(type_: Any, compiled: dict[str, Coercer], open_: set[str]) -> Coercer:
    if isinstance(type_, GraphQLNonNull):
        return _null_or(_core(type_.of_type, compiled, open_), required=True)
    return _null_or(_core(type_, compiled, open_), required=False)


def _core(type_: Any, compiled: dict[str, Coercer], open_: set[str]) -> Coercer:
    if isinstance(type_, GraphQLList):
        return _list(_compile(type_.of_type, compiled, open_))
    if isinstance(type_, GraphQLInputObjectType):
        if type_.is_one_of or type_.name in open_:
            # oneOf rules, and a type that contains itself: graphql-core also limits
            # how deep such a value may go, so it keeps these
            raise _NotCompiled
        return compiled.get(type_.name) or _input_object(type_, compiled, open_)
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return _leaf(type_)
    raise _NotCompiled


class _NotCompiled(Exception):
    """A type the compiled road does not cover: graphql-core's coercion always runs."""


@dataclass(frozen=True)
class _Variable:
    name: str
    type: GraphQLInputType
    coerce: Coercer
    required: bool
    default: Any  # the definition's default value node, or None


@dataclass(frozen=True)
class VariablePlan:
    """How one operation's variables are coerced, and the document to build with."""

    operation: OperationDefinitionNode
    without_variables: DocumentNode  # the document, its operation declaring none
    variables: tuple[_Variable, ...]

    def coerce(self, inputs: dict[str, Any]) -> dict[str, Any] | None:
        """The coerced variables, or None where graphql-core must decide."""
        coerced: dict[str, Any] = {}
        try:
            for variable in self.variables:
                if variable.name not in inputs:
                    if variable.default is not None:
                        coerced[variable.name] = value_from_ast(variable.default, variable.type)
                    elif variable.required:
                        return None
                    continue
                coerced[variable.name] = variable.coerce(inputs[variable.name])
        except (_GiveUp, RecursionError):
            return None
        return coerced


def _plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> VariablePlan | None:
    operation = get_operation_ast(document, operation_name)
    if operation is None or not operation.variable_definitions:
        return None  # nothing to gain, or graphql-core reports the problem
    compiled: dict[str, Coercer] = {}  # input object coercers by type name
    variables = []
    try:
        for definition in operation.variable_definitions:
            type_ = type_from_ast(schema, definition.type)
            if type_ is None or not is_input_type(type_):
                return None
            variables.append(
                _Variable(
                    name=definition.variable.name.value,
                    type=cast(GraphQLInputType, type_),
                    coerce=_compile(type_, compiled, set()),
                    required=isinstance(type_, GraphQLNonNull),
                    default=definition.default_value,
                )
            )
    except _NotCompiled:
        return None
    bare = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=(),
        directives=operation.directives,
        selection_set=operation.selection_set,
        loc=operation.loc,
    )
    definitions = tuple(bare if each is operation else each for each in document.definitions)
    return VariablePlan(operation, DocumentNode(definitions=definitions), tuple(variables))


# Plans by (schema, document, operation name), the objects kept alongside so that an
# id is never taken for another's. Documents come from the view's bounded cache;
# this one is bounded too (emptied when full, then refilled by the documents in use).
PLAN_CACHE_SIZE = 512
_plans: dict[tuple[int, int, str | None], tuple[Any, Any, VariablePlan | None]] = {}
_plans_lock = threading.Lock()


def variable_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> VariablePlan | None:
    key = (id(schema), id(document), operation_name)
    entry = _plans.get(key)
    if entry is not None and entry[0] is schema and entry[1] is document:
        return entry[2]
    plan = _plan(schema, document, operation_name)
    with _plans_lock:
        if len(_plans) >= PLAN_CACHE_SIZE:
            _plans.clear()
        _plans[key] = (schema, document, plan)
    return plan


class CompiledVariablesContext(ExecutionContext):
    """graphql-core's execution context, with the variables coerced by the plan."""

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | ExecutionContext:
        plan = variable_plan(schema, document, operation_name)
        coerced = plan.coerce(raw_variable_values or {}) if plan is not None else None
        if plan is None or coerced is None:
            return super().build(
                schema, document, root_value, context_value, raw_variable_values,
                operation_name, *args, **kwargs,
            )  # fmt: skip
        context = super().build(
            schema, plan.without_variables, root_value, context_value, None,
            operation_name, *args, **kwargs,
        )  # fmt: skip
        if isinstance(context, ExecutionContext):
            context.operation = plan.operation
            context.variable_values = coerced
        return context
