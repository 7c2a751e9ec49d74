"""Settlement pages of the operator console: the periods (the open one, when it is
due and what it holds so far; the closed ones with their totals and payment
state, a chart and CSV), the close of the open period behind a check page (an
early close asks for a reason), one period's statements, bilateral obligations
and netted transfers (CSV each), and one statement line by line (CSV).

Reading needs "read_reports" (admin, finance, read-only); closing needs
"run_settlement" (admin, finance); downloads need "export". Each view reads its
input, calls one settlement service or selector, and renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods

from coalition.settlement import overview
from coalition.settlement.models import LineKind, PaymentStatus, PeriodStatus, StatementLine
from coalition.settlement.operations import period_close_by_operator
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.money import MINOR_UNITS, money
from loyalty_web.design.charts import signed_bars
from loyalty_web.design.exports import csv_response
from loyalty_web.design.formatting import format_money
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import Page, cursor_of
from loyalty_web.design.payment_words import payment_tag
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from loyalty_web.operator.settlement_forms import PeriodCloseForm

READ = "read_reports"
RUN = "run_settlement"
# A period can hold thousands of bilateral pairs: the page shows the largest, the
# CSV has them all.
PAIRS_ON_PAGE = 50

PAYMENT_TAGS = {
    PaymentStatus.PAID: "tag--ok",
    PaymentStatus.NOTHING_DUE: "tag--ok",
    PaymentStatus.FAILED: "tag--bad",
    PaymentStatus.PAYOUT_ERROR: "tag--bad",
    PaymentStatus.REVERSED: "tag--bad",
}
# A closed period's payouts as one state.
PERIOD_STATE_TAGS = {"settled": "tag--ok", "waiting": "tag--warn", "troubled": "tag--bad"}
# What each line is, for the coalition's operator (the stored description is the
# English audit text written at close).
LINE_WORDS = {
    (LineKind.ISSUED, False): gettext_lazy("Points issued"),
    (LineKind.ISSUED_REVERSAL, False): gettext_lazy("Issued points taken back by returns"),
    (LineKind.ISSUED_REVERSAL, True): gettext_lazy(
        "Issued points of earlier periods taken back by returns"
    ),
    (LineKind.REDEEMED, False): gettext_lazy("Points redeemed at the partner"),
    (LineKind.REDEEMED_REVERSAL, False): gettext_lazy("Redemptions given back"),
    (LineKind.REDEEMED_REVERSAL, True): gettext_lazy("Redemptions of earlier periods given back"),
    (LineKind.BREAKAGE_SHARE, False): gettext_lazy("Share of its expired points"),
    (LineKind.FEE_PERCENT, False): gettext_lazy("Percentage fee"),
    (LineKind.FEE_FIXED, False): gettext_lazy("Monthly fixed fee"),
    (LineKind.DONATED, False): gettext_lazy("Points donated"),
}
# The domain's refusals in the page's words (and language), by stable code.
ERROR_WORDS = {
    "close_reason_missing": gettext_lazy(
        "Say why the period closes before it is due, for the period and the audit log"
    ),
    "period_not_due": gettext_lazy("The period is not due yet: give a reason to close it early"),
}


def _line_words(line: StatementLine) -> str:
    kind = LineKind(line.kind)
    words = LINE_WORDS.get((kind, line.earlier_periods)) or LINE_WORDS.get((kind, False))
    return str(words) if words else line.kind


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return operator_context(
        request,
        "settlement",
        can_close=may(request, RUN),
        can_export=may(request, "export"),
        **extra,
    )


def _decimal(amount: int, currency: str) -> Decimal:
    """Minor units as the number a spreadsheet reads (12.34, not 1234)."""
    return Decimal(money(amount, currency)["amount"])


def _period(number: int) -> Any:
    period = overview.period_by_number(number)
    if period is None or period.status != PeriodStatus.CLOSED:
        raise Http404
    return period


# --- the periods -------------------------------------------------------------------------------


@operator_page(READ)
def periods(request: HttpRequest) -> HttpResponseBase:
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            "settlement-periods.csv",
            ["period", "opened_at", "closed_at", "closed_early", "close_reason", "statements",
             "currency", "owed_by_partners", "owed_to_partners", "coalition_margin",
             "payouts_settled", "payouts_waiting", "payouts_troubled"],
            _period_rows(overview.closed_periods(limit=None)),
        )  # fmt: skip
    now = clock.now()
    open_period = overview.open_period_overview(now=now)
    before = cursor_of(request.GET)
    closed = overview.closed_periods(before=before, limit=overview.PERIODS_ON_PAGE + 1)
    shown = closed[: overview.PERIODS_ON_PAGE]
    more = len(closed) > overview.PERIODS_ON_PAGE
    page: Page[Any] = Page(
        [{"closed": row, "state_css": PERIOD_STATE_TAGS[row.payment.key]} for row in shown],
        str(shown[-1].period.number) if more else None,
        before is None,
    )
    return render_page(
        request,
        "loyalty_web/operator/settlement/periods.html",
        _context(
            request,
            open=open_period,
            chart=_margin_chart(shown),
            page=page,
            next_query=page.next_query(request.GET),
            first_query=page.first_query(request.GET),
        ),
        partial="loyalty_web/operator/settlement/period_rows.html",
    )


def _period_rows(rows: Iterable[overview.ClosedPeriod]) -> Iterator[list[Any]]:
    """One row per closed period and currency (a period with none has one row)."""
    for row in rows:
        period = row.period
        head = [period.number, period.opened_at.isoformat(),
                period.closed_at.isoformat() if period.closed_at else "",
                period.closed_early, period.close_reason, row.statements]  # fmt: skip
        tail = [row.payment.settled, row.payment.waiting, row.payment.troubled]
        if not row.totals:
            yield [*head, "", 0, 0, 0, *tail]
        for totals in row.totals:
            c = totals.currency
            money_in = _decimal(totals.owed_by_partners, c)
            money_out = _decimal(totals.owed_to_partners, c)
            yield [*head, c, money_in, money_out, _decimal(totals.margin, c), *tail]


def _margin_chart(rows: list[overview.ClosedPeriod]) -> str:
    """What the coalition kept in each closed period on this page, oldest first, in
    the currency most of them settled in (the table has every currency)."""
    counts: dict[str, int] = {}
    for row in rows:
        for totals in row.totals:
            counts[totals.currency] = counts.get(totals.currency, 0) + 1
    if not counts:
        return ""
    currency = max(sorted(counts), key=lambda c: counts[c])
    ordered = list(reversed(rows))
    values = [next((t.margin for t in row.totals if t.currency == currency), 0) for row in ordered]
    return signed_bars(
        gettext("What the coalition kept per period (%(currency)s): up, a gain; down, a loss")
        % {"currency": currency},
        [str(row.period.number) for row in ordered],
        values,
        text=lambda amount: format_money(amount, currency),
    )


# --- closing the open period ---------------------------------------------------------------------


@operator_page(RUN)
@require_http_methods(["GET", "POST"])
def period_close(request: HttpRequest) -> HttpResponseBase:
    """The check page (which period, due or early, the figures so far) and the
    close itself; an early close needs a reason."""
    now = clock.now()
    open_period = overview.open_period_overview(now=now)
    form = PeriodCloseForm(
        request.POST if request.method == "POST" else None,
        initial={"period": open_period.period.number},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            period, closed = period_close_by_operator(
                number=data["period"],
                reason=data["reason"],
                idempotency=IdempotencyKey(
                    f"operator:{request.user.pk}:period_close", data["idempotency_key"]
                ),
                acting_user=request.user,
                now=now,
            )
        except DomainError as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, str(ERROR_WORDS.get(error.code, error.message)))
        else:
            if closed:
                messages.success(
                    request,
                    gettext("Period %(number)s is closed: its statements are below.")
                    % {"number": period.number},
                )
            else:
                messages.info(
                    request,
                    gettext("Period %(number)s was closed already.") % {"number": period.number},
                )
            return HttpResponseRedirect(reverse("operator:settlement_period", args=[period.number]))
    return render_page(
        request,
        "loyalty_web/operator/settlement/close.html",
        _context(
            request,
            open=open_period,
            form=form,
        ),
        status=400 if form.errors else 200,
    )


# --- one closed period ---------------------------------------------------------------------------

TABLES = ("statements", "obligations", "transfers")


@operator_page(READ)
def period_detail(request: HttpRequest, number: int) -> HttpResponseBase:
    period = _period(number)
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        table = request.GET.get("table", "statements")
        if table not in TABLES:
            raise Http404
        return _period_csv(period, table)
    statements = overview.period_statements(period)
    obligations = overview.period_obligations(period)
    transfers = overview.period_netted_transfers(period)
    return render_page(
        request,
        "loyalty_web/operator/settlement/period.html",
        _context(
            request,
            period=period,
            statements=[
                {"row": row, "payment": payment_tag(row.statement.payment_status, PAYMENT_TAGS)}
                for row in statements
            ],
            margins=sorted((period.coalition_margin or {}).items()),
            obligations=list(obligations[:PAIRS_ON_PAGE]),
            obligation_count=obligations.count(),
            transfers=list(transfers[:PAIRS_ON_PAGE]),
            transfer_count=transfers.count(),
            pairs_on_page=PAIRS_ON_PAGE,
        ),
    )


def _period_csv(period: Any, table: str) -> HttpResponseBase:
    name = f"period-{period.number}-{table}.csv"
    if table == "obligations":
        return csv_response(
            name,
            ["period", "currency", "debtor", "creditor", "points", "amount"],
            (
                [period.number, o.currency, o.debtor.slug, o.creditor.slug, o.points,
                 _decimal(o.amount, o.currency)]
                for o in overview.period_obligations(period).iterator(chunk_size=1000)
            ),
        )  # fmt: skip
    if table == "transfers":
        return csv_response(
            name,
            ["period", "currency", "payer", "payee", "amount"],
            (
                [period.number, t.currency, t.payer.slug, t.payee.slug,
                 _decimal(t.amount, t.currency)]
                for t in overview.period_netted_transfers(period).iterator(chunk_size=1000)
            ),
        )  # fmt: skip
    return csv_response(
        name,
        ["period", "statement", "recipient", "kind", "currency", "gross", "fees", "net",
         "payment_status", "paid_at"],
        (
            [period.number, row.statement.pk,
             row.statement.partner.slug if row.statement.partner else row.recipient,
             "charity" if row.is_charity else "partner", row.statement.currency,
             _decimal(row.gross, row.statement.currency),
             _decimal(row.fees, row.statement.currency),
             _decimal(row.statement.net_amount, row.statement.currency),
             row.statement.payment_status,
             row.statement.paid_at.isoformat() if row.statement.paid_at else ""]
            for row in overview.period_statements(period)
        ),
    )  # fmt: skip


# --- one statement -------------------------------------------------------------------------------


@operator_page(READ)
def statement_detail(request: HttpRequest, number: int, statement_id: int) -> HttpResponseBase:
    found = overview.period_statement(period_number=number, statement_id=statement_id)
    if found is None:
        raise Http404
    lines = overview.statement_lines_of(found)
    currency = found.currency
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            f"period-{number}-statement-{found.pk}.csv",
            ["period", "statement", "line", "kind", "description", "transactions", "points",
             "rate_per_point", "amount", "currency"],
            _line_rows(number, found.pk, lines, currency),
        )  # fmt: skip
    recipient = (
        found.partner.name if found.partner else (found.charity.name if found.charity else "")
    )
    return render_page(
        request,
        "loyalty_web/operator/settlement/statement.html",
        _context(
            request,
            period=found.period,
            statement=found,
            recipient=recipient,
            payment=payment_tag(found.payment_status, PAYMENT_TAGS),
            lines=[
                {
                    "words": _line_words(line),
                    "transactions": line.transactions,
                    "points": line.points,
                    "rate": line.rate if line.kind != LineKind.FEE_PERCENT else None,
                    "percent": line.rate if line.kind == LineKind.FEE_PERCENT else None,
                    "amount": line.amount,
                }
                for line in lines
            ],
        ),
    )


def _line_rows(
    number: int, statement_id: int, lines: list[StatementLine], currency: str
) -> Iterator[list[Any]]:
    for line in lines:
        rate: Decimal | str = ""
        if line.rate is not None and line.kind != LineKind.FEE_PERCENT:
            rate = Decimal(format(line.rate.scaleb(-MINOR_UNITS.get(currency, 2)).normalize(), "f"))
        yield [number, statement_id, line.pk, line.kind, _line_words(line), line.transactions,
               line.points, rate, _decimal(line.amount, currency), currency]  # fmt: skip
