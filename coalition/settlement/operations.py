"""Settlement as an operator runs it from the console: closing the open period,
on time or early with a reason, audited with who did it.

``period_close`` does the closing; this adds what a page needs around it: the
period the operator looked at (a period the schedule or a colleague closed
meanwhile is not followed by a close of the next one), the early close's reason
checked before anything happens, and one audit entry per period, however many
times the button is pressed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from coalition.audit.selectors import audit_entries_about
from coalition.audit.services import audit_record
from coalition.settlement.errors import CloseReasonMissing, PeriodUnknown
from coalition.settlement.models import PeriodStatus, SettlementPeriod
from coalition.settlement.periods import period_close, period_due_at
from loyalty_kernel import clock
from loyalty_kernel.idempotency import IdempotencyKey

CLOSE_ACTION = "settlement.period_close"
AUDIT_OBJECT = "settlement_period"


def period_close_by_operator(
    *,
    number: int,
    reason: str,
    idempotency: IdempotencyKey,
    acting_user: Any,
    now: datetime | None = None,
) -> tuple[SettlementPeriod, bool]:
    """Close period ``number`` (the open one the operator was shown). A period the
    calendar says is due closes as it is; one not due yet is an early (forced)
    close and needs a reason (``CloseReasonMissing``). Returns the period and
    whether this call closed it: a repeated press (same idempotency key) or a
    period closed meanwhile changes nothing and records nothing."""
    now = now or clock.now()
    reason = (reason or "").strip()
    period = SettlementPeriod.objects.filter(number=number).first()
    if period is None:
        raise PeriodUnknown(f"there is no settlement period {number}")
    if period.status == PeriodStatus.CLOSED:
        return period, False
    early = now < period_due_at(period)
    if early and not reason:
        raise CloseReasonMissing("a forced close needs a reason, which the period records")
    closed = period_close(
        period=period, idempotency=idempotency, force=early, reason=reason, now=now
    )
    with transaction.atomic():
        # the period's row lock orders two presses that raced through the close
        locked = SettlementPeriod.objects.select_for_update().get(pk=closed.pk)
        recorded = audit_entries_about(object_type=AUDIT_OBJECT, object_id=str(locked.number))
        if locked.status != PeriodStatus.CLOSED or recorded.filter(action=CLOSE_ACTION).exists():
            return locked, False
        audit_record(
            actor=acting_user,
            partner_id=None,
            action=CLOSE_ACTION,
            target=(AUDIT_OBJECT, locked.number),
            before={"status": PeriodStatus.OPEN},
            after={
                "status": locked.status,
                "closed_early": locked.closed_early,
                "reason": locked.close_reason,
                "end_watermark": locked.end_watermark,
            },
        )
    return locked, True
