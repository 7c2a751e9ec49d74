"""A charity's statement: donations per month and what its ledger account holds."""

from __future__ import annotations

import graphene


class CharityMonthView(graphene.ObjectType):
    month = graphene.Date(required=True, description="The month's first day.")
    donations = graphene.Int(required=True)
    points = graphene.BigInt(required=True)


class CharityStatementView(graphene.ObjectType):
    charity = graphene.String(required=True, description="The charity's slug.")
    name = graphene.String(required=True)
    active = graphene.Boolean(required=True)
    months = graphene.List(
        graphene.NonNull(CharityMonthView), required=True, description="Newest first."
    )
    total_points = graphene.BigInt(required=True, description="Donated since the start.")
    ledger_balance = graphene.BigInt(
        required=True, description="What the charity's account holds: equals totalPoints."
    )
