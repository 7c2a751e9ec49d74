"""Settlement periods: opening, the calendar that says when one is due, and closing.

A period is due when the calendar (``LOYALTY_SETTLEMENT_FREQUENCY``) says so;
closing it earlier takes an explicit ``force`` with a reason, which the period
records. The payouts are enqueued once the close has committed, each statement
its own payout (``stripe.gateway``): a refused payout never undoes a close.

A period covers the journal transactions with start < id <= end watermark. The
end is read under the journal's SHARE lock (``ledger.selectors.safe_watermark``):
every transaction with a lower id has committed, none can appear later, so each
transaction lands in exactly one period whatever its timestamp says.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from coalition.ledger.selectors import safe_watermark
from coalition.settlement.errors import CloseReasonMissing, PeriodNotDue
from coalition.settlement.models import NettedTransfer, PeriodStatus, SettlementPeriod
from coalition.settlement.netting import bilateral_obligations, insert_obligations, net_obligations
from coalition.settlement.statements import (
    add_fixed_fees,
    charity_statements,
    compute_statements,
    fixed_fees_due,
    persist_statements,
)
from loyalty_kernel import clock, jobs
from loyalty_kernel.idempotency import IdempotencyKey


def period_open() -> SettlementPeriod:
    period = SettlementPeriod.objects.filter(status__in=[PeriodStatus.OPEN, PeriodStatus.CLOSING])
    found = period.order_by("number").first()
    if found is not None:
        return found
    last = SettlementPeriod.objects.order_by("-number").first()
    with transaction.atomic():
        return SettlementPeriod.objects.create(
            number=(last.number + 1) if last else 1,
            start_watermark=(last.end_watermark or 0) if last else 0,
        )


def period_due_at(period: SettlementPeriod, frequency: str | None = None) -> datetime:
    """When a period opened at ``opened_at`` is due to close (UTC boundaries)."""
    frequency = frequency or settings.LOYALTY_SETTLEMENT_FREQUENCY
    opened = period.opened_at.astimezone(UTC)
    day = datetime(opened.year, opened.month, opened.day, tzinfo=UTC)
    if frequency == "daily":
        return day + timedelta(days=1)
    if frequency == "weekly":
        return day + timedelta(days=7 - opened.weekday())
    last_day = calendar.monthrange(opened.year, opened.month)[1]
    return day + timedelta(days=last_day - opened.day + 1)


def period_close(
    *,
    period: SettlementPeriod | None = None,
    idempotency: IdempotencyKey | None = None,
    force: bool = False,
    reason: str = "",
    now: datetime | None = None,
    enqueue_payouts: bool = True,
) -> SettlementPeriod:
    """Close the open period at the current safe watermark. Idempotent and
    resumable: a closed period is returned as it is; a period left 'closing' by a
    crash keeps its watermark and is computed again from it; a request repeated
    with its idempotency key returns the period it closed, not the next one.

    A period that is not due yet (``period_due_at``) is refused with
    ``PeriodNotDue`` unless ``force`` is given with a ``reason``; the period
    records both. ``enqueue_payouts=False`` leaves paying to the caller (the
    command pays after printing the statements)."""
    now = now or clock.now()
    reason = reason.strip()
    if idempotency is not None:
        done = SettlementPeriod.objects.filter(
            close_scope=idempotency.scope, close_key=idempotency.key
        ).first()
        if done is not None:
            if done.status == PeriodStatus.CLOSED:
                return done
            return period_close(period=done, now=now, enqueue_payouts=enqueue_payouts)
    period = period or period_open()
    if period.status == PeriodStatus.CLOSED:
        return period
    if period.end_watermark is None:
        due_at = period_due_at(period)
        early = now < due_at
        if early and not force:
            raise PeriodNotDue(
                f"period {period.number} is due at {due_at:%Y-%m-%d %H:%M} UTC; to close it "
                "now, force the close and give a reason"
            )
        if force and not reason:
            raise CloseReasonMissing("a forced close needs a reason, which the period records")
        watermark = safe_watermark()
        with transaction.atomic():
            locked = SettlementPeriod.objects.select_for_update().get(pk=period.pk)
            if locked.end_watermark is None:
                locked.end_watermark = max(watermark, locked.start_watermark)
                locked.status = PeriodStatus.CLOSING
                locked.closed_early, locked.close_reason = early, reason[:500]
                if idempotency is not None:
                    locked.close_scope, locked.close_key = idempotency.scope, idempotency.key
                locked.save(
                    update_fields=[
                        "end_watermark", "status", "close_scope", "close_key",
                        "closed_early", "close_reason",
                    ]
                )  # fmt: skip
    with transaction.atomic():
        locked = SettlementPeriod.objects.select_for_update().get(pk=period.pk)
        if locked.status == PeriodStatus.CLOSED or locked.end_watermark is None:
            # closed by a twin meanwhile (a period past 'open' always has its end)
            return locked
        start, end = locked.start_watermark, locked.end_watermark
        drafts, margin = compute_statements(start, end)
        add_fixed_fees(drafts, margin, fixed_fees_due(until=now))
        persist_statements(locked, drafts, charity_statements(start, end, margin))
        obligations = bilateral_obligations(start, end)
        insert_obligations(locked.pk, obligations)
        NettedTransfer.objects.bulk_create(
            NettedTransfer(period=locked, currency=c, payer_id=payer, payee_id=payee, amount=a)
            for c, payer, payee, a in net_obligations(obligations)
        )
        locked.coalition_margin = margin
        locked.status = PeriodStatus.CLOSED
        locked.closed_at = now
        locked.save(update_fields=["coalition_margin", "status", "closed_at"])
        SettlementPeriod.objects.create(number=locked.number + 1, start_watermark=end)
        if enqueue_payouts:
            jobs.after_commit(_enqueue_payouts, locked.pk)
    return locked


def _enqueue_payouts(period_id: int) -> None:
    if not settings.STRIPE_API_KEY:
        return
    from coalition.settlement.tasks import pay_out_period

    jobs.send_now(pay_out_period, period_id)


def periods_close_due(*, now: datetime | None = None) -> list[SettlementPeriod]:
    """The periodic job: close the open period if its schedule says so. Safe to run
    twice: the next period is not due yet."""
    now = now or clock.now()
    period = period_open()
    if period.status == PeriodStatus.CLOSING or now >= period_due_at(period):
        return [period_close(period=period, now=now)]
    return []
