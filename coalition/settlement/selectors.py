"""Reads of settlement for one partner's staff: its statements of closed periods,
one statement with its lines, the journal transactions behind a line, the live
position of the open period and the liability of the points it issued.

Every read takes the partner: a statement or line of another partner is None,
never its data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from coalition.members.models import Member
from coalition.members.selectors import masked_email
from coalition.settlement.models import PeriodStatus, Statement, StatementLine
from coalition.settlement.reports import LiabilityLine, issuer_liability, live_position
from coalition.settlement.statements import DraftStatement, LineTransaction, line_transactions
from tenants.partners.models import Partner
from tenants.purchases.selectors import stores_of_purchases

STATEMENTS_ON_PAGE = 24


@dataclass(frozen=True)
class StatementSummary:
    period_number: int
    opened_at: datetime
    closed_at: datetime | None
    closed_early: bool
    currency: str
    net_amount: int
    payment_status: str
    payment_status_label: str
    lines: int


def partner_statements(
    *, partner_id: int, before: int | None = None, limit: int = STATEMENTS_ON_PAGE
) -> list[StatementSummary]:
    """The partner's statements of closed periods, newest first, ``limit`` of them
    with a period number below ``before`` (keyset)."""
    rows = (
        Statement.objects.filter(partner_id=partner_id, period__status=PeriodStatus.CLOSED)
        .select_related("period")
        .order_by("-period__number")
    )
    if before is not None:
        rows = rows.filter(period__number__lt=before)
    rows = rows.annotate(line_count=Count("lines"))
    return [
        StatementSummary(
            statement.period.number,
            statement.period.opened_at,
            statement.period.closed_at,
            statement.period.closed_early,
            statement.currency,
            statement.net_amount,
            statement.payment_status,
            statement.get_payment_status_display(),
            statement.line_count,
        )
        for statement in rows[:limit]
    ]


def partner_statement(*, partner_id: int, period_number: int) -> Statement | None:
    """The partner's statement of a closed period, with its period; None if the
    partner has none in that period (or the period is not closed)."""
    return (
        Statement.objects.filter(
            partner_id=partner_id,
            period__number=period_number,
            period__status=PeriodStatus.CLOSED,
        )
        .select_related("period")
        .first()
    )


def statement_lines(statement: Statement) -> list[StatementLine]:
    return list(statement.lines.order_by("id"))


def partner_statement_line(
    *, partner_id: int, period_number: int, line_id: int
) -> StatementLine | None:
    """One line of the partner's statement of a closed period; None if the line is
    not on it."""
    return (
        StatementLine.objects.filter(
            pk=line_id,
            statement__partner_id=partner_id,
            statement__period__number=period_number,
            statement__period__status=PeriodStatus.CLOSED,
        )
        .select_related("statement__period")
        .first()
    )


@dataclass(frozen=True)
class LineTransactionRow:
    transaction_id: int
    created_at: datetime
    kind: str
    member: str  # masked: enough to recognise, never the whole address
    member_number: str
    points: int
    reference: str
    store: str


@dataclass(frozen=True)
class LineTransactionPage:
    rows: list[LineTransactionRow]
    next_after: int | None


def line_transaction_page(
    line: StatementLine, *, after: int | None = None, limit: int = 50
) -> LineTransactionPage:
    """A page of the journal transactions behind a line, oldest first, with each
    member masked and the store of each purchase made here (three statements)."""
    fetched = line_transactions(line, after=after, limit=limit + 1)
    page = fetched[:limit]
    rows = _described(page)
    more = len(fetched) > limit
    return LineTransactionPage(rows, page[-1].transaction_id if more and page else None)


def line_transaction_rows(
    line: StatementLine, *, chunk: int = 1000
) -> Iterator[LineTransactionRow]:
    """Every transaction behind a line, chunk by chunk (for a streamed export)."""
    after: int | None = None
    while True:
        fetched = line_transactions(line, after=after, limit=chunk)
        yield from _described(fetched)
        if len(fetched) < chunk:
            return
        after = fetched[-1].transaction_id


def _described(page: list[LineTransaction]) -> list[LineTransactionRow]:
    members = Member.objects.in_bulk({row.member_id for row in page if row.member_id})
    stores = stores_of_purchases(sorted({row.external_ref for row in page if row.external_ref}))
    described = []
    for row in page:
        member = members.get(row.member_id) if row.member_id else None
        described.append(
            LineTransactionRow(
                row.transaction_id,
                row.created_at,
                row.kind,
                masked_email(member) if member else "",
                member.member_number if member else "",
                row.points,
                row.external_ref,
                stores.get(row.external_ref, ""),
            )
        )
    return described


@dataclass(frozen=True)
class Position:
    statement: DraftStatement
    liability: LiabilityLine


def partner_position(partner: Partner) -> Position:
    """The partner's running statement of the open period and the value of the
    points it issued that members still hold."""
    return Position(live_position(partner), issuer_liability(partner_id=partner.pk))
