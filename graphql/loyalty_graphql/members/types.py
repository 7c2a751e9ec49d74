"""The member as both schemas show it: identity, balance, tier, unspent lots and
the ledger history, the last two as connections."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import graphene

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger.models import TransactionKind
from coalition.members.models import Member
from coalition.tiers.selectors import tier_code_of
from loyalty_graphql.core.types import connection_page, decode_cursor
from loyalty_graphql.limits import page_size


class Lot(graphene.ObjectType):
    issuer = graphene.String(required=True)
    earned_at = graphene.DateTime(required=True)
    expires_at = graphene.DateTime()
    points = graphene.BigInt(required=True)
    remaining = graphene.BigInt(required=True)


class LotConnection(graphene.relay.Connection):
    class Meta:
        node = Lot


LedgerTransactionKind = graphene.Enum(
    "LedgerTransactionKind",
    [(kind.upper(), kind) for kind in TransactionKind.values],
    description="Kinds of ledger transactions (``HistoryItem.kind`` is their lower-case value).",
)


class HistoryItem(graphene.ObjectType):
    transaction_id = graphene.BigInt(required=True)
    kind = graphene.String(required=True)
    points = graphene.BigInt(required=True, description="What it did to the wallet.")
    partner = graphene.String(description="The partner's name.")
    partner_slug = graphene.String(
        description="The partner's slug, as the history filter takes it."
    )
    memo = graphene.String(required=True)
    external_ref = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)


class HistoryConnection(graphene.relay.Connection):
    class Meta:
        node = HistoryItem


@dataclass(frozen=True)
class AnsweredMember:
    """A member as a mutation's answer showed it, kept with the answer: a replay
    shows these values, not today's. Its history ends with the member's newest
    ledger transaction of then (``last_transaction_id``); with none then, its
    lots are none too. (Lots are otherwise today's: only enrolment answers a
    member, before anything was posted to it.)"""

    pk: int
    member_number: str
    email: str
    status: str
    balance: int
    tier: str | None
    last_transaction_id: int


class MemberView(graphene.ObjectType):
    id = graphene.ID(required=True)
    member_number = graphene.String(required=True)
    email = graphene.String(required=True)
    status = graphene.String(required=True)
    balance = graphene.BigInt(required=True)
    tier = graphene.String()
    lots = graphene.Field(
        LotConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        description="Unspent lots in the order they will be spent (soonest expiry first).",
    )
    history = graphene.Field(
        HistoryConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        kind=LedgerTransactionKind(),
        partner=graphene.String(description="A partner's slug: only what happened there."),
        occurred_after=graphene.DateTime(description="From this instant on (inclusive)."),
        occurred_before=graphene.DateTime(description="Before this instant (exclusive)."),
    )

    @staticmethod
    def stored_form(member: Member | AnsweredMember) -> dict[str, Any]:
        """The member as a stored answer keeps it (``loyalty_graphql.answers``)."""
        if isinstance(member, AnsweredMember):
            return asdict(member)
        newest = ledger_selectors.history(member.pk, limit=1).items
        return asdict(
            AnsweredMember(
                pk=member.pk,
                member_number=member.member_number,
                email=member.email,
                status=member.status,
                balance=ledger_selectors.balance(member.pk),
                tier=tier_code_of(member.pk),
                last_transaction_id=newest[0].transaction_id if newest else 0,
            )
        )

    @staticmethod
    def from_stored(stored: dict[str, Any]) -> AnsweredMember:
        return AnsweredMember(**stored)

    @staticmethod
    def resolve_id(member: Member | AnsweredMember, info: Any) -> str:
        return str(member.pk)

    @staticmethod
    def resolve_balance(member: Member | AnsweredMember, info: Any) -> int:
        if isinstance(member, AnsweredMember):
            return member.balance
        return ledger_selectors.balance(member.pk)

    @staticmethod
    def resolve_tier(member: Member | AnsweredMember, info: Any) -> str | None:
        if isinstance(member, AnsweredMember):
            return member.tier
        return tier_code_of(member.pk)

    @staticmethod
    def resolve_lots(
        member: Member | AnsweredMember,
        info: Any,
        first: int | None = None,
        after: str | None = None,
    ) -> LotConnection:
        if isinstance(member, AnsweredMember) and not member.last_transaction_id:
            return connection_page(LotConnection, [], has_next_page=False, after=after)
        page = ledger_selectors.lots_page(
            member.pk, after=decode_cursor(after), limit=page_size(first)
        )
        lots = (
            (
                Lot(
                    issuer=lot.issuer_name,
                    earned_at=lot.earned_at,
                    expires_at=lot.expires_at,
                    points=lot.points,
                    remaining=lot.remaining,
                ),
                lot.lot_id,
            )
            for lot in page.lots
        )
        return connection_page(
            LotConnection, lots, has_next_page=page.next_after is not None, after=after
        )

    @staticmethod
    def resolve_history(
        member: Member | AnsweredMember, info: Any, first: int | None = None,
        after: str | None = None, kind: Any = None, partner: str | None = None,
        occurred_after: datetime | None = None, occurred_before: datetime | None = None,
    ) -> HistoryConnection:  # fmt: skip
        before = decode_cursor(after)
        if isinstance(member, AnsweredMember):  # what it was then: nothing newer
            through = member.last_transaction_id + 1
            before = through if before is None else min(before, through)
        page = ledger_selectors.history(
            member.pk,
            before=before,
            limit=page_size(first),
            kind=kind.value if kind is not None else None,
            partner_slug=partner,
            occurred_after=occurred_after,
            occurred_before=occurred_before,
        )
        items = (
            (
                HistoryItem(
                    transaction_id=item.transaction_id,
                    kind=item.kind,
                    points=item.points,
                    partner=item.partner_name,
                    partner_slug=item.partner_slug,
                    memo=item.memo,
                    external_ref=item.external_ref,
                    created_at=item.created_at,
                ),
                item.transaction_id,
            )
            for item in page.items
        )
        return connection_page(
            HistoryConnection, items, has_next_page=page.next_before is not None, after=after
        )
