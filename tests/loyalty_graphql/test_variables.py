"""The compiled variable coercion (loyalty_graphql/variables.py) against graphql-core's.

For every input type of both schemas and any value, the compiled road either gives
up (and graphql-core's coercion then runs and reports) or gives exactly what
graphql-core gives; it never accepts a value graphql-core refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    execute,
    get_operation_ast,
    is_input_object_type,
    parse,
)
from graphql.execution.values import get_variable_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_graphql import variables
from loyalty_graphql.schema import coalition_schema, partner_schema
from loyalty_graphql.variables import CompiledVariablesContext, variable_plan

SCHEMAS = {"partner": partner_schema.graphql_schema, "coalition": coalition_schema.graphql_schema}
INPUT_TYPES = sorted(
    (name, type_name)
    for name, schema in SCHEMAS.items()
    for type_name, type_ in schema.type_map.items()
    if is_input_object_type(type_) and not type_name.startswith("__")
)

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.text(max_size=12), st.sampled_from(["2026-12-07T10:00:00+00:00", "1.50", "EUR", "0"]),
)  # fmt: skip
JUNK = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _leaf_values(type_: GraphQLScalarType | GraphQLEnumType) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values)) if type_.values else st.just("X")
    good = {
        "Int": st.integers(-(2**31), 2**31 - 1),
        "Float": st.floats(allow_nan=False, allow_infinity=False),
        "String": st.text(max_size=12),
        "ID": st.text(max_size=8) | st.integers(0, 10**6),
        "Boolean": st.booleans(),
        "DateTime": st.sampled_from(["2026-12-07T10:00:00+00:00", "2026-01-31T23:59:59Z"]),
        "Date": st.sampled_from(["2026-12-07", "2024-02-29"]),
        "Decimal": st.sampled_from(["1.50", "0", "-3", "12345.678"]),
        "JSONString": st.sampled_from(['{"a": 1}', "[]", "null"]),
    }
    return good.get(type_.name, JSON_LEAVES)


@st.composite
def values_of(draw: st.DrawFn, type_: Any, depth: int = 0) -> Any:
    """Mostly well-formed values of the type, with every kind of mistake mixed in."""
    if depth > 4 or draw(st.integers(0, 9)) == 0:
        return draw(JUNK)  # anything at all
    if isinstance(type_, GraphQLNonNull):
        return draw(values_of(type_.of_type, depth))
    if draw(st.integers(0, 14)) == 0:
        return None
    if isinstance(type_, GraphQLList):
        if draw(st.booleans()):
            return draw(values_of(type_.of_type, depth + 1))  # a bare value: a list of one
        return draw(st.lists(values_of(type_.of_type, depth + 1), max_size=3))
    if isinstance(type_, GraphQLInputObjectType):
        value = {}
        for name, field in type_.fields.items():
            if draw(st.integers(0, 5)) > 0:  # sometimes left out
                value[name] = draw(values_of(field.type, depth + 1))
        if draw(st.integers(0, 9)) == 0:
            value[draw(st.text(min_size=1, max_size=6))] = draw(JSON_LEAVES)  # unknown field
        return value
    return draw(_leaf_values(type_))


def _document(type_name: str) -> Any:
    # Coercion needs only the operation's variable definitions: the document is
    # never validated, so the variable need not be used.
    return parse(f"query Q($v: {type_name}!, $w: [{type_name}] = null) {{ __typename }}")


def _comparable(value: Any) -> str:
    # graphene's input containers are dicts with attributes: compare their items
    return json.dumps(value, default=repr, sort_keys=True)


def assert_same(schema: GraphQLSchema, document: Any, inputs: dict[str, Any]) -> None:
    operation = get_operation_ast(document, None)
    assert operation is not None
    reference = get_variable_values(schema, operation.variable_definitions or (), inputs)
    plan = variable_plan(schema, document, None)
    assert plan is not None
    compiled = plan.coerce(inputs)
    if isinstance(reference, list):  # graphql-core refused it: so must the plan
        assert compiled is None, (inputs, [e.message for e in reference], compiled)
    elif compiled is not None:
        assert _comparable(compiled) == _comparable(reference), inputs
        for name in reference:
            assert type(compiled[name]) is type(reference[name])


@pytest.mark.parametrize(("schema_name", "type_name"), INPUT_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_coercion_agrees_with_graphql_core(
    schema_name: str, type_name: str, data: st.DataObject
) -> None:
    schema = SCHEMAS[schema_name]
    type_ = schema.type_map[type_name]
    document = _document(type_name)
    inputs: dict[str, Any] = {}
    if data.draw(st.integers(0, 19)) > 0:  # sometimes the required variable is missing
        inputs["v"] = data.draw(values_of(GraphQLNonNull(type_)))
    if data.draw(st.booleans()):
        inputs["w"] = data.draw(values_of(GraphQLList(type_)))
    assert_same(schema, document, inputs)


RECORD_PURCHASE_TEXT = (
    "mutation($key: String!, $receipt: ReceiptInput!) {"
    " recordPurchase(idempotencyKey: $key, receipt: $receipt) { errors { code } } }"
)
RECORD_PURCHASE = parse(RECORD_PURCHASE_TEXT)
RECEIPT = {
    "externalId": "T-1", "memberNumber": "1000000017", "occurredAt": "2026-12-07T10:00:00+00:00",
    "currency": "EUR", "total": 2095,
    "lines": [{"sku": "APPLES", "category": "fresh", "quantity": 6, "unitPrice": 45}],
}  # fmt: skip


def test_a_receipt_takes_the_compiled_road_and_comes_out_as_graphql_cores() -> None:
    schema = SCHEMAS["partner"]
    inputs = {"key": "k-1", "receipt": RECEIPT}
    plan = variable_plan(schema, RECORD_PURCHASE, None)
    assert plan is not None
    assert plan.coerce(inputs) is not None  # not given up
    assert_same(schema, RECORD_PURCHASE, inputs)
    bare_line = {**RECEIPT, "lines": RECEIPT["lines"][0]}  # a bare value: a list of one
    assert_same(schema, RECORD_PURCHASE, {"key": "k-1", "receipt": bare_line})


@pytest.mark.parametrize(
    "receipt",
    [
        {**RECEIPT, "total": "lots"},  # a scalar that does not parse
        {**RECEIPT, "colour": "red"},  # a field ReceiptInput does not define
        {k: v for k, v in RECEIPT.items() if k != "memberNumber"},  # a required field missing
        {**RECEIPT, "lines": [None]},  # a null where a line is required
        {**RECEIPT, "lines": [{"sku": "A"}]},  # a line without its required fields
        "a receipt",  # not an object at all
    ],
)
def test_what_graphql_core_refuses_the_plan_gives_up(receipt: Any) -> None:
    schema = SCHEMAS["partner"]
    inputs = {"key": "k-1", "receipt": receipt}
    plan = variable_plan(schema, RECORD_PURCHASE, None)
    assert plan is not None
    assert plan.coerce(inputs) is None
    assert isinstance(
        get_variable_values(schema, RECORD_PURCHASE.definitions[0].variable_definitions, inputs),
        list,
    )


def test_execution_gives_graphql_cores_result_and_errors() -> None:
    """Through ``execute``: the same data and the same error messages, and the
    resolvers see the real operation (its variables still declared)."""
    schema = SCHEMAS["partner"]
    document = parse(
        "query Q($first: Int = 2, $unused: String) { ...F }"
        " fragment F on PartnerQuery { __typename }"
    )
    for inputs in ({}, {"first": 5}, {"first": "five"}, {"first": None, "unused": 3}):
        plain = execute(schema, document, variable_values=inputs)
        compiled = execute(
            schema,
            document,
            variable_values=inputs,
            execution_context_class=CompiledVariablesContext,
        )
        assert compiled == plain, inputs  # type: ignore[comparison-overlap]
    seen = []

    class Watching(CompiledVariablesContext):
        def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
            seen.append((self.operation, self.variable_values))
            return super().execute_operation(*args, **kwargs)

    execute(schema, document, variable_values={"first": 7}, execution_context_class=Watching)
    ((operation, values),) = seen
    assert operation is document.definitions[0]
    assert values == {"first": 7}


def test_plans_are_kept_per_document_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = SCHEMAS["partner"]
    monkeypatch.setattr(variables, "PLAN_CACHE_SIZE", 3)
    monkeypatch.setattr(variables, "_plans", {})
    first = variable_plan(schema, RECORD_PURCHASE, None)
    assert variable_plan(schema, RECORD_PURCHASE, None) is first  # kept
    # an equal document parsed again is another object: its own plan
    assert variable_plan(schema, parse(RECORD_PURCHASE_TEXT), None) is not first
    for _ in range(3):
        variable_plan(schema, parse(RECORD_PURCHASE_TEXT), None)
    assert len(variables._plans) <= 3
