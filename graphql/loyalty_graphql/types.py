"""Object types shared by both schemas. Points are BigInt (balances are 64-bit in
the ledger); money is a decimal string in major units plus its currency, never a
Float. Lists that can grow are Relay-style connections with a capped page size."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import graphene

from coalition.ledger import selectors as ledger_selectors
from coalition.members.models import Member
from coalition.tiers.services import tier_code_of
from loyalty_graphql.limits import page_size
from tenants.partners.currencies import MINOR_UNITS


def money(amount_minor: int, currency: str) -> dict[str, str]:
    exponent = MINOR_UNITS.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    return {"amount": f"{value:.{exponent}f}", "currency": currency}


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"c:{value}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text.removeprefix("c:"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid cursor") from None


class Money(graphene.ObjectType):
    amount = graphene.String(required=True, description="Decimal, in major units.")
    currency = graphene.String(required=True)


class Lot(graphene.ObjectType):
    issuer = graphene.String(required=True)
    earned_at = graphene.DateTime(required=True)
    expires_at = graphene.DateTime()
    points = graphene.BigInt(required=True)
    remaining = graphene.BigInt(required=True)


class HistoryItem(graphene.ObjectType):
    transaction_id = graphene.BigInt(required=True)
    kind = graphene.String(required=True)
    points = graphene.BigInt(required=True, description="What it did to the wallet.")
    partner = graphene.String()
    memo = graphene.String(required=True)
    external_ref = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)


class HistoryConnection(graphene.relay.Connection):
    class Meta:
        node = HistoryItem


class MemberView(graphene.ObjectType):
    id = graphene.ID(required=True)
    member_number = graphene.String(required=True)
    email = graphene.String(required=True)
    status = graphene.String(required=True)
    balance = graphene.BigInt(required=True)
    tier = graphene.String()
    lots = graphene.List(graphene.NonNull(Lot), required=True)
    history = graphene.Field(
        HistoryConnection, required=True, first=graphene.Int(), after=graphene.String()
    )

    @staticmethod
    def resolve_id(member: Member, info: Any) -> str:
        return str(member.pk)

    @staticmethod
    def resolve_balance(member: Member, info: Any) -> int:
        return ledger_selectors.balance(member.pk)

    @staticmethod
    def resolve_tier(member: Member, info: Any) -> str | None:
        return tier_code_of(member.pk)

    @staticmethod
    def resolve_lots(member: Member, info: Any) -> list[dict[str, Any]]:
        return [
            {
                "issuer": lot.issuer_name,
                "earned_at": lot.earned_at,
                "expires_at": lot.expires_at,
                "points": lot.points,
                "remaining": lot.remaining,
            }
            for lot in ledger_selectors.lots(member.pk)
        ]

    @staticmethod
    def resolve_history(
        member: Member, info: Any, first: int | None = None, after: str | None = None
    ) -> HistoryConnection:
        page = ledger_selectors.history(
            member.pk, before=decode_cursor(after), limit=page_size(first)
        )
        edges = [
            HistoryConnection.Edge(
                node=HistoryItem(
                    transaction_id=item.transaction_id,
                    kind=item.kind,
                    points=item.points,
                    partner=item.partner_name,
                    memo=item.memo,
                    external_ref=item.external_ref,
                    created_at=item.created_at,
                ),
                cursor=encode_cursor(item.transaction_id),
            )
            for item in page.items
        ]
        return HistoryConnection(
            edges=edges,
            page_info=graphene.relay.PageInfo(
                has_next_page=page.next_before is not None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
