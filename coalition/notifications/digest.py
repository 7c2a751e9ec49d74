"""The daily points-earned digest: one e-mail per member who earned since the last
digest, with the points summed per partner (never one e-mail per purchase).

Each day's run covers the journal from where the previous day's ended to the
safe watermark at its start (``DigestRun``); a rerun of the same day reuses that
window, and the outbox key (the day) keeps every member's digest to one e-mail.
The very first run looks back one day only."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import groupby

from django.db import IntegrityError, transaction

from coalition.ledger.selectors import earned_by_partner, last_transaction_before, safe_watermark
from coalition.notifications.models import DigestRun, NotificationKind, NotificationStatus
from coalition.notifications.selectors import members_with_kind_off
from coalition.notifications.services import notification_send
from loyalty_kernel import clock

FIRST_LOOK_BACK = timedelta(days=1)
BATCH = 500


def _digest_run(now: datetime) -> DigestRun:
    day = now.date()
    run = DigestRun.objects.filter(day=day).first()
    if run is not None:
        return run
    through = safe_watermark()
    previous = DigestRun.objects.filter(day__lt=day).order_by("-day").first()
    after = (
        previous.through_id
        if previous is not None
        else last_transaction_before(now - FIRST_LOOK_BACK, through)
    )
    try:
        with transaction.atomic():
            return DigestRun.objects.create(
                day=day, after_id=after, through_id=max(after, through), created_at=now
            )
    except IntegrityError:  # a concurrent run started the day first: use its window
        return DigestRun.objects.get(day=day)


def points_digests_send(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Send today's digests; safe to run again (it sends nothing twice). Returns how
    many e-mails were sent."""
    now = now or clock.now()
    run = _digest_run(now)
    key = run.day.isoformat()
    sent = 0
    after_member = 0
    while rows := earned_by_partner(
        after_id=run.after_id, through_id=run.through_id, after_member=after_member, members=batch
    ):
        member_ids = sorted({row.member_id for row in rows})
        switched_off = members_with_kind_off(member_ids, NotificationKind.POINTS_EARNED)
        for member_id, earned in groupby(rows, key=lambda row: row.member_id):
            if member_id in switched_off:
                continue
            partners = [(row.partner_name, row.points) for row in earned]
            row = notification_send(
                member_id=member_id,
                kind=NotificationKind.POINTS_EARNED,
                key=key,
                context={"partners": partners, "total": sum(points for _, points in partners)},
                now=now,
            )
            sent += row is not None and row.status == NotificationStatus.SENT
        after_member = member_ids[-1]
    return sent
