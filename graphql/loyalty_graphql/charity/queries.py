"""Charity statements (operator)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.charity.selectors import charity_statements
from loyalty_graphql.base import OPERATOR, require
from loyalty_graphql.charity.types import CharityMonthView, CharityStatementView


class CharityQueries(graphene.ObjectType):
    charity_statements = graphene.List(
        graphene.NonNull(CharityStatementView),
        required=True,
        charity=graphene.String(description="A charity's slug; every charity without it."),
        last=graphene.Int(description="How many months, newest first (12 by default)."),
    )

    @staticmethod
    def resolve_charity_statements(
        root: Any, info: Any, charity: str | None = None, last: int | None = None
    ) -> list[CharityStatementView]:
        require(info, OPERATOR, "operator")
        return [
            CharityStatementView(
                charity=statement.charity.slug,
                name=statement.charity.name,
                active=statement.charity.is_active,
                months=[
                    CharityMonthView(
                        month=line.month.date(), donations=line.donations, points=line.points
                    )
                    for line in statement.lines
                ],
                total_points=statement.total_points,
                ledger_balance=statement.ledger_balance,
            )
            for statement in charity_statements(
                charity_slug=charity, months=last if last is not None else 12
            )
        ]
