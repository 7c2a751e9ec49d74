"""The operator's finance reports, read from ``coalition.settlement.finance``: the
points liability (per currency and per issuer, with pending holds and the deferred
revenue), breakage per month, and points issued against redeemed per month. Each
page has a chart where the figures are a series, the same figures in a table, and
a CSV of the table. Months are UTC calendar months, the report's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from functools import wraps
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy

from coalition.settlement.finance import FinanceReport, finance_report
from loyalty_web.design.charts import Series, grouped_bars, rate_line
from loyalty_web.design.exports import csv_response
from loyalty_web.design.formatting import format_points
from loyalty_web.design.pages import render_page
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from tenants.partners.selectors import partner_names

READ = "read_reports"

# The report's pages, as their own navigation shows them.
PAGES = (
    ("liability", "/operator/reports/", gettext_lazy("Liability")),
    ("breakage", "/operator/reports/breakage/", gettext_lazy("Breakage")),
    ("flows", "/operator/reports/issued-redeemed/", gettext_lazy("Issued and redeemed")),
)


def percent(rate: Decimal) -> str:
    """A rate (0.1234) as the page writes it (12.34 %), in the reader's language."""
    return f"{formats.number_format(rate * 100, 2)} %"


def month_label(month: Any) -> str:
    """A month under a chart: short (Jan 26), so twelve fit side by side."""
    return formats.date_format(month, "M y")


def _context(request: HttpRequest, page: str, report: FinanceReport, **extra: Any) -> Any:
    return operator_context(
        request,
        "reports",
        report_pages=[{"key": key, "url": url, "label": label} for key, url, label in PAGES],
        report_page=page,
        report=report,
        expected_percent=percent(report.expected_breakage_rate),
        can_export=may(request, "export"),
        **extra,
    )


ReportView = Callable[[HttpRequest, FinanceReport], HttpResponseBase]


def _report_page(
    csv_name: str,
    csv_header: Sequence[str],
    csv_rows: Callable[[FinanceReport], Iterable[Sequence[Any]]],
) -> Callable[[ReportView], Callable[[HttpRequest], HttpResponseBase]]:
    """A report page: the finance report read once, then the CSV of its table (for
    those who may export) when asked for, else the page the view renders from it."""

    def decorate(view: ReportView) -> Callable[[HttpRequest], HttpResponseBase]:
        @operator_page(READ)
        @wraps(view)
        def page(request: HttpRequest) -> HttpResponseBase:
            wants_csv = request.GET.get("format") == "csv"
            if wants_csv and not may(request, "export"):
                return denied(request)
            report = finance_report()
            if wants_csv:
                return csv_response(
                    f"{csv_name}-{report.as_of:%Y-%m-%d}.csv", csv_header, csv_rows(report)
                )
            return view(request, report)

        return page

    return decorate


# --- liability --------------------------------------------------------------------------------


def _issuers(report: FinanceReport) -> list[dict[str, Any]]:
    names = partner_names(line.issuer_id for line in report.lines)
    return [
        {"line": line, "name": names.get(line.issuer_id, ("", ""))[0],
         "slug": names.get(line.issuer_id, ("", ""))[1]}
        for line in report.lines
    ]  # fmt: skip


def _liability_rows(report: FinanceReport) -> Iterator[Sequence[Any]]:
    rate = report.expected_breakage_rate
    for c in report.currencies:
        yield ["currency", c.currency, "", c.currency, c.outstanding_points, c.held_points,
               c.value, c.deferred_revenue, rate]  # fmt: skip
    for row in _issuers(report):
        line = row["line"]
        yield ["issuer", row["slug"], row["name"], line.currency or "", line.outstanding_points,
               line.held_points, "" if line.value is None else line.value, "", ""]  # fmt: skip
    if report.goodwill_points or report.goodwill_held_points:
        # Coalition goodwill: points only (no issuer, so no issuance price to value them).
        yield ["goodwill", "", gettext("Coalition goodwill"), "", report.goodwill_points,
               report.goodwill_held_points, "", "", ""]  # fmt: skip


@_report_page(
    "liability",
    ["level", "issuer", "name", "currency", "outstanding_points", "held_points",
     "value_minor", "deferred_revenue_minor", "expected_breakage_rate"],
    _liability_rows,
)  # fmt: skip
def liability(request: HttpRequest, report: FinanceReport) -> HttpResponseBase:
    """What the points members still hold are worth: per currency, and per issuer."""
    return render_page(
        request,
        "loyalty_web/operator/reports/liability.html",
        _context(request, "liability", report, issuers=_issuers(report)),
    )


# --- breakage ---------------------------------------------------------------------------------


def _breakage_rows(report: FinanceReport) -> Iterator[Sequence[Any]]:
    for m in report.months:
        yield [m.month.isoformat(), m.expired, m.redeemed, m.breakage_rate]


@_report_page(
    "breakage", ["month", "expired_points", "redeemed_points", "breakage_rate"], _breakage_rows
)
def breakage(request: HttpRequest, report: FinanceReport) -> HttpResponseBase:
    """Expired points and the breakage rate per month, and the rate the deferred
    revenue is estimated with."""
    labels = [month_label(m.month) for m in report.months]
    chart = rate_line(
        gettext("Breakage rate per month: expired points out of those expired or redeemed"),
        labels,
        [m.breakage_rate for m in report.months],
        text=percent,
    )
    return render_page(
        request,
        "loyalty_web/operator/reports/breakage.html",
        _context(
            request,
            "breakage",
            report,
            chart=chart,
            months=[{"month": m, "percent": percent(m.breakage_rate)} for m in report.months],
        ),
    )


# --- issued and redeemed ----------------------------------------------------------------------


def _flow_rows(report: FinanceReport) -> Iterator[Sequence[Any]]:
    for m in report.months:
        yield [m.month.isoformat(), m.issued, m.issued_reversed,
               m.issued - m.issued_reversed, m.redeemed, m.redeem_reversed,
               m.redeemed - m.redeem_reversed, m.expired]  # fmt: skip


@_report_page(
    "issued-redeemed",
    ["month", "issued", "issued_reversed", "issued_net", "redeemed", "redeem_reversed",
     "redeemed_net", "expired"],
    _flow_rows,
)  # fmt: skip
def flows(request: HttpRequest, report: FinanceReport) -> HttpResponseBase:
    """Points issued and redeemed per month, each net of what was reversed."""
    chart = grouped_bars(
        gettext("Points issued and redeemed per month, net of reversals"),
        [month_label(m.month) for m in report.months],
        [
            Series(
                gettext("Issued"), [m.issued - m.issued_reversed for m in report.months], "bar-a"
            ),
            Series(
                gettext("Redeemed"),
                [m.redeemed - m.redeem_reversed for m in report.months],
                "bar-b",
            ),
        ],
        text=format_points,
    )
    return render_page(
        request,
        "loyalty_web/operator/reports/flows.html",
        _context(request, "flows", report, chart=chart, months=report.months),
    )
