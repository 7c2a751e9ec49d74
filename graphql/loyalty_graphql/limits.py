"""Safety limits added to GraphQL's standard validation rules (never replacing
them): query depth, query cost (fields weighted by the page sizes they ask
for), and introspection when the settings turn it off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from graphene.validation import depth_limit_validator
from graphql import GraphQLError, ValidationRule, specified_rules
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

MAX_PAGE_SIZE = 100


def page_size(first: int | None, default: int = 20) -> int:
    """The page size a connection serves: the client's ``first``, capped."""
    if first is None:
        return default
    if first < 1:
        raise ValueError("first must be at least 1")
    return min(first, MAX_PAGE_SIZE)


class CostLimitRule(ValidationRule):
    """Each field costs 1, times the ``first`` of the list it sits in; a document
    costing more than LOYALTY_GRAPHQL_MAX_COST is refused before it runs."""

    def enter_operation_definition(self, node: Any, *_args: Any) -> None:
        fragments: dict[str, Any] = {
            definition.name.value: definition
            for definition in self.context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        cost = self._cost(node.selection_set, 1, fragments, set())
        limit = settings.LOYALTY_GRAPHQL_MAX_COST
        if cost > limit:
            self.report_error(GraphQLError(f"query cost {cost} exceeds the limit of {limit}", node))

    def _cost(self, selection_set: Any, multiplier: int, fragments: dict[str, Any],
              seen: set[str]) -> int:  # fmt: skip
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = multiplier
                for argument in selection.arguments or ():
                    if argument.name.value in {"first", "last"} and isinstance(
                        argument.value, IntValueNode
                    ):
                        # at least 1: a negative page size must not offset a sibling's cost
                        first = max(1, min(int(argument.value.value), MAX_PAGE_SIZE))
                        inner = multiplier * first
                    elif argument.name.value in {"first", "last"}:
                        inner = multiplier * MAX_PAGE_SIZE  # a variable: assume the cap
                total += multiplier + self._cost(selection.selection_set, inner, fragments, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, multiplier, fragments, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    total += self._cost(fragments[name].selection_set, multiplier, fragments,
                                        seen | {name})  # fmt: skip
        return total


def validation_rules() -> list[Any]:
    rules: list[Any] = [
        *specified_rules,
        depth_limit_validator(max_depth=settings.LOYALTY_GRAPHQL_MAX_DEPTH),
        CostLimitRule,
    ]
    if not settings.LOYALTY_GRAPHQL_INTROSPECTION:
        # __schema and __type only: graphene's DisableIntrospection also refuses
        # __typename, which Apollo and Relay clients add to every selection
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def limits_in_force() -> tuple[Any, ...]:
    """The settings the validation rules depend on (a cache key for documents)."""
    return (
        settings.LOYALTY_GRAPHQL_MAX_DEPTH,
        settings.LOYALTY_GRAPHQL_MAX_COST,
        settings.LOYALTY_GRAPHQL_INTROSPECTION,
    )
