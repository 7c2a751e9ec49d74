"""Payout pages of the operator console: every statement's payout or invoice with
its Stripe state (filters, keyset pages, CSV); the retry of a payout Stripe
refused behind a check page; a closed period's payout run, started from its
check page and followed while the job runs (htmx polls the job); the
reconciliation with Stripe (a job) and its differences; the charity statements
of a period and their payouts.

Reading is for admins, finance and read-only staff (``read_reports``); paying,
retrying and reconciling for admins and finance (``pay_out``). Each view reads
its input, calls one service or selector of ``coalition.settlement``, and
renders; a domain error is shown next to the field it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from coalition.settlement import payout_selectors as selectors
from coalition.settlement import payout_services as services
from coalition.settlement.models import PaymentStatus, PayoutJob, PayoutJobStatus, Statement
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from loyalty_web.design.status_tags import status_tag
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from loyalty_web.operator.payouts_forms import PayoutFilterForm, PayoutRequestForm

READ = "read_reports"
PAY = "pay_out"
PAGE_SIZE = 50

# Each Stripe state as the page names it, with its tag colour.
STATES: dict[str, tuple[Any, str]] = {
    PaymentStatus.NOTHING_DUE: (gettext_lazy("Nothing due"), ""),
    PaymentStatus.PENDING: (gettext_lazy("Pending"), "tag--warn"),
    PaymentStatus.INVOICED: (gettext_lazy("Invoiced"), "tag--warn"),
    PaymentStatus.TRANSFER_SENT: (gettext_lazy("Transfer sent"), "tag--ok"),
    PaymentStatus.PAID: (gettext_lazy("Paid"), "tag--ok"),
    PaymentStatus.FAILED: (gettext_lazy("Failed"), "tag--bad"),
    PaymentStatus.REVERSED: (gettext_lazy("Reversed"), "tag--bad"),
    PaymentStatus.PAYOUT_ERROR: (gettext_lazy("Refused by Stripe"), "tag--bad"),
}
JOB_STATES: dict[str, Any] = {
    PayoutJobStatus.QUEUED: gettext_lazy("Waiting to start"),
    PayoutJobStatus.RUNNING: gettext_lazy("Running"),
    PayoutJobStatus.DONE: gettext_lazy("Finished"),
    PayoutJobStatus.FAILED: gettext_lazy("Stopped"),
}
# The domain's refusals in the page's words (and language), by stable code.
ERROR_WORDS = {
    "payout_not_failed": gettext_lazy(
        "Only a payout Stripe refused can be retried; this one is not refused now"
    ),
    "payout_period_not_closed": gettext_lazy("Only a closed period's statements can be paid"),
    "stripe_not_configured": gettext_lazy(
        "Stripe is not set up here (STRIPE_API_KEY), so nothing can be paid or reconciled"
    ),
    "idempotency_key_reused": gettext_lazy(
        "This form was already used for something else: open the page again"
    ),
}


def _show(form: Any, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(ERROR_WORDS.get(error.code, error.message)))


def _idempotency(request: HttpRequest, key: str) -> IdempotencyKey:
    # The form's key, scoped to this operator: nobody else's form collides.
    return IdempotencyKey(f"operator:{request.user.pk}", key)


T = TypeVar("T")


def _submitted(
    request: HttpRequest, form: PayoutRequestForm, start: Callable[[IdempotencyKey], T]
) -> T | None:
    """Run ``start`` with the form's idempotency key when the form was posted and is
    valid (a second press replays the first); None, with the refusal shown on the
    form, otherwise."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return start(_idempotency(request, form.cleaned_data["idempotency_key"]))
    except DomainError as error:
        _show(form, error)
        return None


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return operator_context(
        request,
        "payouts",
        can_pay=may(request, PAY),
        can_export=may(request, "export"),
        **extra,
    )


def _row(statement: Statement) -> dict[str, Any]:
    if statement.charity_id:
        who, kind = statement.charity.name if statement.charity else "", _("Charity transfer")
    else:
        who = statement.partner.name if statement.partner else ""
        kind = (
            _("Invoice")
            if statement.net_amount > 0
            else _("Transfer")
            if statement.net_amount < 0
            else "—"
        )
    return {
        "statement": statement,
        "period": statement.period.number,
        "who": who,
        "kind": kind,
        "amount": abs(statement.net_amount),
        "state": status_tag(STATES, statement.payment_status),
        "refused": statement.payment_status == PaymentStatus.PAYOUT_ERROR
        and not statement.stripe_object_id,
    }


def _csv_rows(statements: Iterable[Statement]) -> Iterable[list[Any]]:
    for s in statements:
        row = _row(s)
        yield [
            s.pk, row["period"], row["who"], row["kind"], s.currency, row["amount"],
            s.payment_status, s.stripe_object_id, s.payout_error_code, s.payout_error_message,
            s.payout_attempts, s.payout_retry_at.isoformat() if s.payout_retry_at else "",
        ]  # fmt: skip


CSV_HEADER = [
    "statement", "period", "payee_or_payer", "kind", "currency", "amount", "stripe_state",
    "stripe_object", "stripe_error_code", "stripe_error_message", "attempts", "next_retry",
]  # fmt: skip


# --- the payouts list ----------------------------------------------------------------------


@operator_page(READ)
def payout_list(request: HttpRequest) -> HttpResponseBase:
    periods = list(selectors.closed_periods().values_list("number", flat=True)[:120])
    form = PayoutFilterForm(
        request.GET or None,
        statuses=[(key, label) for key, (label, _css) in STATES.items()],
        periods=periods,
    )
    filters = form.cleaned_data if form.is_valid() else {}
    chosen: dict[str, Any] = {
        "status": filters.get("status") or "",
        "period_number": filters.get("period"),
    }
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            "payouts.csv", CSV_HEADER, _csv_rows(selectors.payout_statements(**chosen).iterator())
        )
    page = keyset_page(
        selectors.payout_statements(**chosen, before_id=cursor_of(request.GET)),
        size=PAGE_SIZE,
        first_page=cursor_of(request.GET) is None,
    )
    to_pay = []
    if may(request, PAY):
        for number in periods[:3]:
            period = selectors.closed_period(number)
            if period is not None:
                left = selectors.statements_to_pay(period.pk).count()
                if left:
                    to_pay.append({"number": number, "left": left})
    return render_page(
        request,
        "loyalty_web/operator/payouts/payouts.html",
        _context(
            request,
            form=form,
            rows=[_row(s) for s in page.items],
            **page_links(page, request.GET),
            to_pay=to_pay,
        ),
        partial="loyalty_web/operator/payouts/payout_rows.html",
        status=400 if form.errors else 200,
    )


# --- retry one refused payout ------------------------------------------------------------------


@operator_page(PAY)
@require_http_methods(["GET", "POST"])
def payout_retry(request: HttpRequest, statement_id: int) -> HttpResponseBase:
    """The check page (who, how much, Stripe's reason) and the button."""
    statement = selectors.payout_statement(statement_id)
    if statement is None:
        raise Http404
    form = PayoutRequestForm(request.POST or None)
    job = _submitted(
        request,
        form,
        lambda key: services.payout_retry(
            statement_id=statement.pk, actor=request.user, idempotency=key
        ),
    )
    if job is not None:
        if job.paid:
            messages.success(request, _("Paid: Stripe accepted the payout."))
        elif job.refused:
            messages.error(
                request,
                _("Stripe refused the payout again: %(reason)s")
                % {"reason": job.result.get("payout_error_message", "")},
            )
        elif job.finished:
            messages.error(
                request,
                _("Not paid: the partner or charity has no connected Stripe account yet."),
            )
        return HttpResponseRedirect(
            reverse("operator:payouts") + f"?period={statement.period.number}"
        )
    row = _row(statement)
    return render_page(
        request,
        "loyalty_web/operator/payouts/retry.html",
        _context(request, row=row, form=form, allowed=row["refused"]),
        status=400 if form.errors else 200,
    )


# --- pay out a closed period (a job) ----------------------------------------------------------


@operator_page(PAY)
@require_http_methods(["GET", "POST"])
def period_payout(request: HttpRequest, number: int) -> HttpResponseBase:
    period = selectors.closed_period(number)
    if period is None:
        raise Http404
    form = PayoutRequestForm(request.POST or None)
    job = _submitted(
        request,
        form,
        lambda key: services.payout_period_start(
            period_id=period.pk, actor=request.user, idempotency=key
        ),
    )
    if job is not None:
        return HttpResponseRedirect(reverse("operator:payout_job", args=[job.pk]))
    to_pay = list(selectors.statements_to_pay(period.pk).select_related("partner", "charity"))
    return render_page(
        request,
        "loyalty_web/operator/payouts/period_payout.html",
        _context(
            request,
            period=period,
            form=form,
            rows=[_row(s) for s in to_pay],
            jobs=[_job(job) for job in selectors.latest_payout_jobs(period_id=period.pk)],
        ),
        status=400 if form.errors else 200,
    )


def _job(job: PayoutJob) -> dict[str, Any]:
    return {
        "job": job,
        "state": str(JOB_STATES.get(job.status, job.status)),
        "percent": 100 if job.finished else (job.done * 100 // job.total if job.total else 0),
        "error": str(ERROR_WORDS.get(job.error_code, job.error_message)),
    }


@operator_page(READ)
def payout_job(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """A payout run or reconciliation: its progress (htmx polls this page's
    fragment until the job has finished), then what it came to."""
    job = selectors.payout_job(job_id)
    if job is None or job.kind == "retry":
        raise Http404
    if job.kind == "reconcile":
        return HttpResponseRedirect(reverse("operator:reconciliation"))
    return render_page(
        request,
        "loyalty_web/operator/payouts/job.html",
        _context(request, run=_job(job)),
        partial="loyalty_web/operator/payouts/job_progress.html",
    )


# --- reconciliation ----------------------------------------------------------------------------


def _differences(job: PayoutJob | None) -> list[dict[str, Any]]:
    if job is None or job.status != PayoutJobStatus.DONE:
        return []
    return list(job.result.get("differences", []))


@operator_page(READ)
@require_http_methods(["GET", "POST"])
def reconciliation(request: HttpRequest) -> HttpResponseBase:
    """The last reconciliation's differences (or that all match), and a button to
    run one again; the page follows a running one."""
    form = PayoutRequestForm(request.POST or None)
    if request.method == "POST":
        if not may(request, PAY):
            return denied(request)
        started = _submitted(
            request,
            form,
            lambda key: services.reconciliation_start(actor=request.user, idempotency=key),
        )
        if started is not None:
            return HttpResponseRedirect(reverse("operator:reconciliation"))
    job = selectors.latest_reconciliation()
    differences = _differences(job)
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            "reconciliation.csv",
            ["statement", "stripe_object", "problem"],
            ([d["statement"] or "", d["stripe_object"] or "", d["problem"]] for d in differences),
        )
    return render_page(
        request,
        "loyalty_web/operator/payouts/reconciliation.html",
        _context(
            request,
            form=PayoutRequestForm() if request.method == "GET" else form,
            run=_job(job) if job else None,
            differences=differences,
        ),
        partial="loyalty_web/operator/payouts/reconciliation_result.html",
        status=400 if form.errors else 200,
    )


# --- charities ---------------------------------------------------------------------------------


@operator_page(READ)
def charity_payouts(request: HttpRequest) -> HttpResponseBase:
    """The charity statements of a closed period (the latest unless one is
    chosen) and their payouts: the points donated, the value, the transfer."""
    periods = list(selectors.closed_periods().values_list("number", flat=True)[:120])
    form = PayoutFilterForm(request.GET or None, statuses=[], periods=periods)
    filters = form.cleaned_data if form.is_valid() else {}
    number = filters.get("period") or (periods[0] if periods else None)
    statements = (
        list(selectors.charity_statements(period_number=number)) if number is not None else []
    )
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            f"charity-payouts-{number or 'none'}.csv",
            ["period", "charity", "points_donated", "currency", "amount", "stripe_state",
             "stripe_object", "stripe_error_code", "stripe_error_message"],
            ([number, s.charity.name if s.charity else "", getattr(s, "points", 0), s.currency,
              abs(s.net_amount), s.payment_status, s.stripe_object_id, s.payout_error_code,
              s.payout_error_message] for s in statements),
        )  # fmt: skip
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    return render_page(
        request,
        "loyalty_web/operator/payouts/charities.html",
        _context(
            request,
            form=form,
            number=number,
            rows=[{**_row(s), "points": getattr(s, "points", 0)} for s in statements],
            csv_query=csv_query.urlencode(),
        ),
        status=400 if form.errors else 200,
    )
