"""Settlement pages of the merchant console: the live position of the open period
and the liability of the partner's points, its statements of closed periods, one
statement line by line, and the journal transactions behind a line; CSV downloads
of a statement and of a line's transactions.

Reading needs "read_reports" (owners, managers, analysts); downloads need "export".
A period or line that is not this partner's is a 404, never its data."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext, gettext_lazy

from coalition.ledger.models import TransactionKind
from coalition.settlement import selectors
from coalition.settlement.models import LineKind, PaymentStatus, StatementLine
from loyalty_kernel.money import MINOR_UNITS, money
from loyalty_web.console.access import denied as _denied
from loyalty_web.console.access import may as _can
from loyalty_web.console.access import partner_of as _partner
from loyalty_web.console.access import staff_page
from loyalty_web.console.views import console_context
from loyalty_web.design.charts import signed_bars
from loyalty_web.design.exports import csv_response
from loyalty_web.design.formatting import format_money
from loyalty_web.design.ledger_words import kind_label
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page, cursor_of
from loyalty_web.design.payment_words import payment_tag

READ = "read_reports"
TRANSACTIONS_ON_PAGE = 50

# What each line is, in words a shop's finance person reads (the stored description
# is the English audit text written at close).
LINE_WORDS = {
    (LineKind.ISSUED, False): gettext_lazy("Points issued to members"),
    (LineKind.ISSUED_REVERSAL, False): gettext_lazy("Points taken back by returns"),
    (LineKind.ISSUED_REVERSAL, True): gettext_lazy(
        "Points taken back by returns of earlier periods' purchases"
    ),
    (LineKind.REDEEMED, False): gettext_lazy("Points members spent here"),
    (LineKind.REDEEMED_REVERSAL, False): gettext_lazy("Spent points given back"),
    (LineKind.REDEEMED_REVERSAL, True): gettext_lazy("Spent points of earlier periods given back"),
    (LineKind.BREAKAGE_SHARE, False): gettext_lazy("Your share of your points that expired"),
    (LineKind.FEE_PERCENT, False): gettext_lazy("Fee on points issued"),
    (LineKind.FEE_FIXED, False): gettext_lazy("Monthly fixed fee"),
    (LineKind.DONATED, False): gettext_lazy("Points donated"),
}
CAPTURED = gettext_lazy("Points members paid with at the till")
# Lines of a partner's points adjustments (settled like issuance and returns).
KIND_WORDS: dict[str, Any] = {
    TransactionKind.CAPTURE: CAPTURED,
    TransactionKind.ADJUSTMENT_CREDIT: gettext_lazy("Points you added by adjustments"),
    TransactionKind.ADJUSTMENT_DEBIT: gettext_lazy("Points you took back by adjustments"),
}

STATUS_TAGS = {
    PaymentStatus.PAID: "tag--ok",
    PaymentStatus.NOTHING_DUE: "tag--ok",
    PaymentStatus.FAILED: "tag--warn",
    PaymentStatus.PAYOUT_ERROR: "tag--warn",
    PaymentStatus.REVERSED: "tag--warn",
}


def line_words(kind: str, transaction_kind: str, earlier_periods: bool) -> str:
    if transaction_kind in KIND_WORDS and kind != LineKind.FEE_PERCENT:
        return str(KIND_WORDS[transaction_kind])
    words = LINE_WORDS.get((LineKind(kind), earlier_periods)) or LINE_WORDS.get(
        (LineKind(kind), False)
    )
    return str(words) if words else kind


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return console_context(request, "settlement", can_export=_can(request, "export"), **extra)


def _line(line: Any, currency: str) -> dict[str, Any]:
    """A persisted or live line as the tables show it."""
    return {
        "id": getattr(line, "pk", None),
        "words": line_words(line.kind, line.transaction_kind, line.earlier_periods),
        "transactions": line.transactions,
        "points": line.points,
        "rate": line.rate if line.kind != LineKind.FEE_PERCENT else None,
        "percent": line.rate if line.kind == LineKind.FEE_PERCENT else None,
        "amount": line.amount,
        "currency": currency,
        "drills_down": bool(line.transactions and line.transaction_kind),
    }


@staff_page(READ)
def overview(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    position = selectors.partner_position(partner)
    live = position.statement
    before = cursor_of(request.GET)
    statements = selectors.partner_statements(
        partner_id=partner.pk, before=before, limit=selectors.STATEMENTS_ON_PAGE + 1
    )
    shown = statements[: selectors.STATEMENTS_ON_PAGE]
    more = len(statements) > selectors.STATEMENTS_ON_PAGE
    page: Page[Any] = Page(
        [{"summary": s, "status": payment_tag(s.payment_status, STATUS_TAGS)} for s in shown],
        str(shown[-1].period_number) if more else None,
        before is None,
    )
    return render_page(
        request,
        "loyalty_web/console/settlement.html",
        _context(
            request,
            chart=_statements_chart(shown),
            live_lines=[_line(line, live.currency) for line in live.lines],
            live_net=live.net,
            live_net_abs=abs(live.net),
            live_currency=live.currency,
            liability=position.liability,
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
    )


def _statements_chart(statements: list[Any]) -> str:
    """The closed periods on this page, oldest first: what the partner paid (up) or
    was paid (down), so a season's swing reads at a glance. The table says the same."""
    if not statements:
        return ""
    ordered = list(reversed(statements))
    currency = ordered[-1].currency
    return signed_bars(
        gettext("Statements of closed periods: up, you pay the coalition; down, it pays you"),
        [str(s.period_number) for s in ordered],
        [s.net_amount if s.currency == currency else 0 for s in ordered],
        text=lambda amount: format_money(amount, currency),
    )


@staff_page(READ)
def statement(request: HttpRequest, number: int) -> HttpResponseBase:
    partner = _partner(request)
    found = selectors.partner_statement(partner_id=partner.pk, period_number=number)
    if found is None:
        raise Http404
    lines = selectors.statement_lines(found)
    if request.GET.get("format") == "csv":
        if not _can(request, "export"):
            return _denied(request)
        return csv_response(
            f"statement-{number}.csv",
            [
                "period",
                "line",
                "kind",
                "description",
                "transactions",
                "points",
                "rate_per_point",
                "amount",
                "currency",
            ],
            _statement_rows(number, lines, found.currency),
        )
    return render_page(
        request,
        "loyalty_web/console/statement.html",
        _context(
            request,
            statement=found,
            net_abs=abs(found.net_amount),
            period=found.period,
            status=payment_tag(found.payment_status, STATUS_TAGS),
            lines=[_line(line, found.currency) for line in lines],
        ),
    )


def _statement_rows(number: int, lines: list[StatementLine], currency: str) -> Iterator[list[Any]]:
    for line in lines:
        rate: Decimal | str = ""
        if line.rate is not None and line.kind != LineKind.FEE_PERCENT:
            rate = Decimal(format(line.rate.scaleb(-MINOR_UNITS.get(currency, 2)).normalize(), "f"))
        yield [
            number,
            line.pk,
            line.kind,
            line_words(line.kind, line.transaction_kind, line.earlier_periods),
            line.transactions,
            line.points,
            rate,
            Decimal(money(line.amount, currency)["amount"]),  # a number, not quoted text
            currency,
        ]


@staff_page(READ)
def line_transactions(request: HttpRequest, number: int, line_id: int) -> HttpResponseBase:
    partner = _partner(request)
    line = selectors.partner_statement_line(
        partner_id=partner.pk, period_number=number, line_id=line_id
    )
    if line is None:
        raise Http404
    currency = line.statement.currency
    if request.GET.get("format") == "csv":
        if not _can(request, "export"):
            return _denied(request)
        return csv_response(
            f"statement-{number}-line-{line_id}.csv",
            ["transaction", "when", "kind", "member", "points", "reference", "store"],
            (
                [
                    row.transaction_id,
                    row.created_at.isoformat(),
                    row.kind,
                    row.member,
                    row.points,
                    row.reference,
                    row.store,
                ]
                for row in selectors.line_transaction_rows(line)
            ),
        )
    after = cursor_of(request.GET)
    result = selectors.line_transaction_page(line, after=after, limit=TRANSACTIONS_ON_PAGE)
    page: Page[Any] = Page(
        [{"row": row, "kind": kind_label(row.kind)} for row in result.rows],
        str(result.next_after) if result.next_after else None,
        after is None,
    )
    return render_page(
        request,
        "loyalty_web/console/statement_line.html",
        _context(
            request,
            period=line.statement.period,
            statement=line.statement,
            line=_line(line, currency),
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
        partial="loyalty_web/console/statement_line_rows.html",
    )
