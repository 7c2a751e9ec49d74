"""Reads of payouts for the operator console: every statement's payout or
invoice with its Stripe state (filtered by state and period), one statement, the
closed periods and what is left to pay in each, the payout and reconciliation
jobs, and the charity statements of a period."""

from __future__ import annotations

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from coalition.settlement.models import (
    PAYABLE_STATUSES,
    PayoutJob,
    PayoutJobKind,
    PeriodStatus,
    SettlementPeriod,
    Statement,
)


def payout_statements(
    *,
    status: str = "",
    period_number: int | None = None,
    charities: bool | None = None,
    before_id: int | None = None,
) -> QuerySet[Statement]:
    """Statements (each made by a period's close) newest first, each with its period
    and who it pays or invoices; below a keyset cursor. ``charities`` True keeps
    the charities' statements, False the partners', None both."""
    rows = Statement.objects.select_related("period", "partner", "charity").order_by("-pk")
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    if status:
        rows = rows.filter(payment_status=status)
    if period_number is not None:
        rows = rows.filter(period__number=period_number)
    if charities is not None:
        rows = rows.filter(charity__isnull=not charities)
    return rows


def payout_statement(statement_id: int) -> Statement | None:
    return (
        Statement.objects.select_related("period", "partner", "charity")
        .filter(pk=statement_id)
        .first()
    )


def closed_periods() -> QuerySet[SettlementPeriod]:
    return SettlementPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-number")


def closed_period(number: int) -> SettlementPeriod | None:
    return closed_periods().filter(number=number).first()


def statements_to_pay(period_id: int) -> QuerySet[Statement]:
    """What a payout run of the period picks up (``gateway.pay_out_period``'s rule)."""
    return Statement.objects.filter(
        period_id=period_id, payment_status__in=PAYABLE_STATUSES, stripe_object_id=""
    ).exclude(net_amount=0)


def payout_job(job_id: int) -> PayoutJob | None:
    return PayoutJob.objects.select_related("period", "statement").filter(pk=job_id).first()


def latest_payout_jobs(*, period_id: int, limit: int = 5) -> list[PayoutJob]:
    return list(
        PayoutJob.objects.filter(kind=PayoutJobKind.PERIOD, period_id=period_id).order_by("-pk")[
            :limit
        ]
    )


def latest_reconciliation() -> PayoutJob | None:
    return PayoutJob.objects.filter(kind=PayoutJobKind.RECONCILE).order_by("-pk").first()


def charity_statements(*, period_number: int) -> QuerySet[Statement]:
    """The charity statements of a period, by charity name, each with the points
    donated (its ``donated`` lines) as ``points``."""
    return (
        Statement.objects.filter(period__number=period_number, charity__isnull=False)
        .select_related("period", "charity")
        .annotate(points=Coalesce(Sum("lines__points"), 0))
        .order_by("charity__name", "pk")
    )
