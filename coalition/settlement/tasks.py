"""Settlement jobs. Closing and paying out are idempotent (watermarks, Stripe
idempotency keys), so they acknowledge late and are safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from coalition.settlement import finance, periods
from coalition.settlement.stripe import events, gateway


@shared_task(name="settlement.close_due_periods", acks_late=True)
def close_due_periods() -> list[int]:
    return [period.pk for period in periods.periods_close_due()]


@shared_task(name="settlement.advance_finance_rollups", acks_late=True, ignore_result=True)
def advance_finance_rollups() -> int:
    """Fold the journal up to the safe watermark into the finance report's
    rollups (idempotent: the watermark moves with the rows it covers)."""
    return finance.finance_rollup_advance()


@shared_task(name="settlement.pay_out_period", acks_late=True)
def pay_out_period(period_id: int) -> int:
    return gateway.pay_out_period(period_id).paid


@shared_task(name="settlement.retry_payouts", acks_late=True)
def retry_payouts() -> int:
    """Refused payouts whose backoff has passed (the job runs every minute)."""
    if not settings.STRIPE_API_KEY:
        return 0
    return gateway.retry_payouts().paid


@shared_task(name="settlement.process_stripe_event", acks_late=True)
def process_stripe_event(event_id: str) -> str:
    return events.process_event(event_id)


@shared_task(name="settlement.reconcile", acks_late=True)
def reconcile() -> int:
    if not settings.STRIPE_API_KEY:
        return 0  # nothing is paid through Stripe, so nothing to reconcile
    return len(gateway.reconcile())


@shared_task(name="settlement.run_payout_job", acks_late=True)
def run_payout_job(job_id: int) -> None:
    """A period's payout run or a reconciliation an operator asked for."""
    from coalition.settlement.payout_services import payout_job_run

    payout_job_run(job_id)
