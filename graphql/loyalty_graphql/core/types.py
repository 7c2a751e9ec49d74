"""Object types and helpers shared by every domain of both schemas: money and
Relay cursors. Points are BigInt (balances are 64-bit in the ledger); money is a
decimal string in major units plus its currency, never a Float. Lists that can
grow are Relay-style connections with a capped page size."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, TypeVar

import graphene


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


def page_info(edges: list[Any], has_next_page: bool, after: str | None) -> graphene.relay.PageInfo:
    """A forward-paginated connection's page info, from its edges."""
    return graphene.relay.PageInfo(
        has_next_page=has_next_page,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


Page = TypeVar("Page", bound=graphene.relay.Connection)


def connection_page(
    connection: type[Page],
    nodes: Iterable[tuple[Any, int]],
    *,
    has_next_page: bool,
    after: str | None,
) -> Page:
    """A page of a forward-paginated connection: each node with the key its
    cursor encodes (where the next page starts after it)."""
    edges = [connection.Edge(node=node, cursor=encode_cursor(key)) for node, key in nodes]
    return connection(edges=edges, page_info=page_info(edges, has_next_page, after))


class Money(graphene.ObjectType):
    amount = graphene.String(required=True, description="Decimal, in major units.")
    currency = graphene.String(required=True)
