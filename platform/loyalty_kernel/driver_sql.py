"""SQL straight on the driver connection beneath Django's, for hot paths.

Statements run here name their schema (``public.`` or a partner's schema), so
they skip the ``SET search_path`` round trip django-tenants sends for each new
Django cursor, and they skip the ORM's query compilation, which costs more
Python time than a short indexed statement costs PostgreSQL. Errors still become
Django's exceptions, and a broken atomic block is still refused. When Django
logs queries (DEBUG, or a test's ``CaptureQueriesContext``) these statements are
logged too, marked ``[driver]``, so query counts tell the whole story.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import pq


class _LoggedCursor:
    """A driver cursor that records its statements where Django records its own."""

    def __init__(self, cursor: Any, db: Any) -> None:
        self._cursor = cursor
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def execute(self, sql: str, params: Any = None, **options: Any) -> Any:
        started = time.monotonic()
        try:
            return self._cursor.execute(sql, params, **options)
        finally:
            self._db.queries_log.append(
                {"sql": f"[driver] {sql}", "time": f"{time.monotonic() - started:.3f}"}
            )


def _checked_wrapper() -> Any:
    """Django's connection wrapper, its driver connection open and usable."""
    db: Any = connections[DEFAULT_DB_ALIAS]
    if not db.health_check_done:
        # As Django's own cursors: a persistent connection is checked (SELECT 1)
        # once per request before its first statement, and replaced if dead.
        db.close_if_health_check_failed()
    if db.connection is None:
        db.ensure_connection()
    if db.needs_rollback:
        db.validate_no_broken_transaction()
    return db


@contextmanager
def driver_cursor() -> Iterator[Any]:
    """A cursor on the driver connection (parameters bound by the client)."""
    # The connection proxy costs a thread-local lookup per attribute: take the
    # wrapper once (this runs several times per request).
    db = _checked_wrapper()
    with db.wrap_database_errors:
        cursor = db.connection.cursor()
        try:
            yield _LoggedCursor(cursor, db) if db.queries_logged else cursor
        finally:
            cursor.close()


def fetchall(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    with driver_cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def fetchone(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...] | None:
    with driver_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return tuple(row) if row is not None else None


def execute(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> None:
    with driver_cursor() as cursor:
        cursor.execute(sql, params)


# psycopg prepares a statement only when asked (``prepare=True``) if the
# connection's threshold is this high; Django leaves it at None (never prepare).
_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1


def prepared_all(sql: str, params: dict[str, Any] | Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run a hot statement as a server-side prepared statement (parsed and planned
    once per connection; planning often costs more than executing), its
    parameters bound by the server (arrays travel in binary). Prepared statements
    live in the database session, which is why deployments pool connections per
    session (see docs/adr/0006-driver-sql-and-pgbouncer-session-mode.md)."""
    db = _checked_wrapper()
    with db.wrap_database_errors:
        driver = db.connection
        if driver.prepare_threshold is None:
            driver.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        (cursor,) = _kept_cursors(db, driver, 1)
        (_LoggedCursor(cursor, db) if db.queries_logged else cursor).execute(
            sql, params, prepare=True
        )
        return _rows(cursor)


def _kept_cursors(db: Any, driver: Any, count: int) -> list[Any]:
    """``count`` server-binding cursors, kept on Django's wrapper (a thread's own)
    and used again for every hot statement and pipeline, so their adapters are
    looked up once, not once per statement. A statement's or a pipeline's rows
    are read before it returns, so nothing else uses them meanwhile; a new driver
    connection gets new cursors."""
    kept: list[Any] = getattr(db, _KEPT_CURSORS, None) or []
    if kept and (kept[0].connection is not driver or any(c.closed for c in kept)):
        kept = []
    while len(kept) < count:
        kept.append(psycopg.Cursor(driver))
    setattr(db, _KEPT_CURSORS, kept)
    return kept[:count]


_KEPT_CURSORS = "_loyalty_kept_cursors"


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    result = cursor.pgresult
    if result is None or result.status != pq.ExecStatus.TUPLES_OK:
        return []  # a statement without rows (``description`` would build columns)
    return list(cursor.fetchall())


def prepared_pipeline(
    statements: Sequence[tuple[str, dict[str, Any] | Sequence[Any]]],
) -> list[list[tuple[Any, ...]]]:
    """Several prepared statements sent together and answered together (psycopg's
    pipeline mode): one round trip instead of one each. In a transaction not yet
    begun, psycopg first sends its BEGIN and waits for it (a round trip of its
    own: it must see the transaction open before it queues more). PostgreSQL
    still runs them one after the other, each with its own snapshot. Their rows,
    in order (none for a statement without rows, such as a SAVEPOINT); the first
    error among them is raised, the statements after it not run."""
    db = _checked_wrapper()
    with db.wrap_database_errors:
        driver = db.connection
        if driver.prepare_threshold is None:
            driver.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        cursors = _kept_cursors(db, driver, len(statements))
        logged = db.queries_logged
        # Leaving the block sends the one Sync and reads every answer. Calling
        # ``sync()`` inside it as well would send a second Sync and wait for it
        # too: a round trip more, and about a third more client CPU (measured:
        # three statements 99 us instead of 150 us of CPU, 121 us instead of
        # 221 us of wall time on loopback).
        with driver.pipeline():
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                (_LoggedCursor(cursor, db) if logged else cursor).execute(sql, params, prepare=True)
        return [_rows(cursor) for cursor in cursors]


# Quoted text (kept as it is), or a run of blanks around a line break, or of
# two blanks or more.
_SQL_BLANKS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|[ \t]*\n\s*|[ \t]{2,}""")


def compact_sql(sql: str) -> str:
    """``sql`` without its indentation and runs of blanks, quoted text untouched
    and line breaks kept (a ``--`` comment still ends where it did). For a hot
    statement assembled from parts: psycopg caches its parse of a statement's
    placeholders only up to 4,096 bytes and parses a longer one again at every
    execution (a regular expression over the whole text: 0.5 ms measured for
    4,184 bytes). Not for text with dollar quotes or backslash escapes."""
    return _SQL_BLANKS.sub(
        lambda m: m.group(1) or ("\n" if "\n" in m.group(0) else " "), sql
    ).strip()


def prepared(sql: str, params: dict[str, Any] | Sequence[Any]) -> tuple[Any, ...] | None:
    rows = prepared_all(sql, params)
    return rows[0] if rows else None
