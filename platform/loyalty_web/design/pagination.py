"""Keyset pagination: pages follow a (sort key, id) cursor in the query string, so
a page costs the same at the millionth row as at the first, and a link to a
page keeps working while new rows arrive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.http import QueryDict

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    first_page: bool

    def next_query(self, query: QueryDict) -> str | None:
        """The query string of the next page, keeping the filters."""
        if self.next_cursor is None:
            return None
        params = query.copy()
        params["after"] = self.next_cursor
        return params.urlencode()

    def first_query(self, query: QueryDict) -> str:
        params = query.copy()
        params.pop("after", None)
        return params.urlencode()


def cursor_of(query: QueryDict, name: str = "after") -> int | None:
    """The ``name`` cursor (an id), or None for the first page; junk is the first page."""
    raw = query.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def csv_query(query: QueryDict) -> str:
    """The query string of the CSV download of what the page shows: the same filters,
    every page (so no cursor)."""
    params = query.copy()
    params["format"] = "csv"
    params.pop("after", None)
    return params.urlencode()


def keyset_page(rows: Any, *, size: int, id_of: Any = None, first_page: bool = True) -> Page[Any]:
    """``rows`` is a queryset (or list) already filtered to ids below the cursor and
    ordered newest first; one extra row tells whether a next page exists.
    ``first_page`` is whether the request named no cursor."""
    id_of = id_of or (lambda row: row.pk)
    fetched = list(rows[: size + 1])
    items = fetched[:size]
    more = len(fetched) > size
    return Page(
        items=items, next_cursor=str(id_of(items[-1])) if more else None, first_page=first_page
    )


def page_links(page: Page[Any], query: QueryDict) -> dict[str, Any]:
    """A list page's context for its keyset page, as the list templates name it: the
    page, the next and first pages' query strings and the CSV download's."""
    return {
        "page": page,
        "next_query": page.next_query(query),
        "first_query": page.first_query(query),
        "csv_query": csv_query(query),
    }
