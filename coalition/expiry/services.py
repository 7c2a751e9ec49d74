"""Points expiry: when a new lot expires, the periodic expiry job, and reminders.

- ``fixed`` mode: a lot expires ``months`` after it was earned; the job moves what
  is left of expired lots to breakage.
- ``inactivity`` mode, and members in countries where time-only expiry is not
  allowed: lots carry no date; a member with no earn, burn, capture, transfer,
  donation or partner's credit adjustment for ``inactivity_months`` loses the
  remaining points. A goodwill credit is points the member received from a
  partner, like an earn, so it is activity; a partner taking points back (a
  debit, like an earn reversal) is not.
- Reminders: ``reminder_days`` before lots expire, one e-mail per member and
  expiry day, through ``coalition.notifications`` (the member may switch them
  off; each carries an unsubscribe link). The reminder row is unique and written
  before sending, so reruns and concurrent runs send once; a run that crashed
  after writing it retries the still-pending row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.expiry.countries import ISO_COUNTRIES
from coalition.expiry.errors import ExpiryCountryUnknown, ExpiryPolicyInvalid
from coalition.expiry.models import ExpiryMode, ExpiryPolicy, ExpiryReminder, ReminderStatus
from coalition.expiry.selectors import expiry_policy
from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.selectors import member_active_sql
from coalition.notifications.models import NotificationKind, NotificationStatus
from coalition.notifications.services import notification_send

logger = logging.getLogger(__name__)

ACTIVITY_KINDS = (
    "earn", "burn", "capture", "transfer", "donation", "adjustment_credit", "goodwill_credit",
)  # fmt: skip


def _inactivity_applies(policy: ExpiryPolicy, country: str) -> bool:
    return policy.mode == ExpiryMode.INACTIVITY or (
        bool(country) and country.upper() in {c.upper() for c in policy.inactivity_only_countries}
    )


def lot_expiry_for(member_id: int, earned_at: datetime) -> datetime | None:
    """The expiry date a lot earned now gets, or None where only inactivity expires points."""
    country = Member.objects.filter(pk=member_id).values_list("country", flat=True).first() or ""
    return lot_expiry_under(expiry_policy(), country, earned_at)


def lot_expiry_under(policy: ExpiryPolicy, country: str, earned_at: datetime) -> datetime | None:
    """``lot_expiry_for`` when the caller has already read the policy and the
    member's country (the purchase path reads both with its other context)."""
    if _inactivity_applies(policy, country):
        return None
    return earned_at + relativedelta(months=policy.months)


def inactive_members(policy: ExpiryPolicy, now: datetime, limit: int = 1000) -> list[int]:
    """Members under the inactivity rule with points and no activity since the cut-off."""
    cutoff = now - relativedelta(months=policy.inactivity_months)
    countries = [c.upper() for c in policy.inactivity_only_countries]
    everyone = policy.mode == ExpiryMode.INACTIVITY
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.member_id
              FROM public.ledger_account a
              JOIN public.members_member m ON m.id = a.member_id
             WHERE a.kind = 'wallet' AND a.balance > 0
               AND (%s OR upper(m.country) = ANY(%s))
               AND NOT EXISTS (
                   SELECT 1 FROM public.ledger_transaction t
                    WHERE t.member_id = a.member_id AND t.kind = ANY(%s)
                      AND t.created_at >= %s
               )
             ORDER BY a.member_id LIMIT %s
            """,
            [everyone, countries, list(ACTIVITY_KINDS), cutoff, limit],
        )
        return [int(row[0]) for row in cursor.fetchall()]


def points_expire(*, now: datetime | None = None) -> int:
    """The periodic job: expire dated lots and inactive members' points. Safe to run
    twice or concurrently (each member is expired under its wallet lock, once)."""
    now = now or timezone.now()
    policy = expiry_policy()
    # Both steps work in batches: repeat until nothing is left (expired members drop
    # out of the next batch), or a batch makes no progress (a concurrent run took it).
    total = 0
    while expired := ledger.lots_expire(now=now):
        total += expired
    while members := inactive_members(policy, now):
        expired = sum(ledger.member_lots_expire(member_id=member, now=now) for member in members)
        if not expired:
            break
        total += expired
    return total


def _expiring_soon(now: datetime, days: int) -> dict[tuple[int, date], int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT l.member_id, (l.expires_at AT TIME ZONE 'UTC')::date, sum(l.remaining)
              FROM public.ledger_lot l JOIN public.members_member m ON m.id = l.member_id
             WHERE l.remaining > 0 AND l.expires_at > %s AND l.expires_at <= %s
               AND {member_active_sql("m")}
             GROUP BY 1, 2
            """,  # noqa: S608 - identifiers and placeholders only, values are parameters
            [now, now + timedelta(days=days)],
        )
        grouped: dict[tuple[int, date], int] = defaultdict(int)
        for member_id, day, points in cursor.fetchall():
            grouped[(int(member_id), day)] += int(points)
        return grouped


def reminders_send(*, now: datetime | None = None) -> int:
    """E-mail members whose points expire within ``reminder_days``; each member and
    expiry day once. Returns how many e-mails were sent."""
    now = now or timezone.now()
    policy = expiry_policy()
    for (member_id, day), points in _expiring_soon(now, policy.reminder_days).items():
        try:
            with transaction.atomic():
                ExpiryReminder.objects.create(member_id=member_id, expires_on=day, points=points)
        except IntegrityError:
            continue  # already reminded (or being reminded) for that day
    sent = 0
    pending = ExpiryReminder.objects.filter(status=ReminderStatus.PENDING).select_related("member")
    for reminder in pending:
        with transaction.atomic():
            claimed = ExpiryReminder.objects.filter(
                pk=reminder.pk, status=ReminderStatus.PENDING
            ).update(status=ReminderStatus.SENT, sent_at=now)
            if not claimed:
                continue  # another run took it
            # Through the member's choices and the outbox (an unsubscribe link in
            # every reminder); a member who switched reminders off gets none.
            notification = notification_send(
                member_id=reminder.member_id,
                kind=NotificationKind.POINTS_EXPIRING,
                key=reminder.expires_on.isoformat(),
                context={"points": reminder.points, "expires_on": reminder.expires_on},
                now=now,
            )
            if notification is None or notification.status != NotificationStatus.SENT:
                continue
            sent += 1
    return sent


# --- the policy, as the operator console changes it ------------------------------------

MAX_MONTHS = 600
MAX_REMINDER_DAYS = 365


def _countries(codes: list[str]) -> list[str]:
    cleaned = sorted({code.strip().upper() for code in codes if code.strip()})
    unknown = [code for code in cleaned if code not in ISO_COUNTRIES]
    if unknown:
        raise ExpiryCountryUnknown(
            f"Not ISO 3166 country codes: {', '.join(unknown)}. Use two letters, like DE or FR"
        )
    return cleaned


def _policy_values(policy: ExpiryPolicy) -> dict[str, Any]:
    return {
        "mode": policy.mode, "months": policy.months,
        "inactivity_months": policy.inactivity_months, "reminder_days": policy.reminder_days,
        "inactivity_only_countries": list(policy.inactivity_only_countries),
    }  # fmt: skip


def expiry_policy_set(
    *,
    mode: str,
    months: int,
    inactivity_months: int,
    reminder_days: int,
    inactivity_only_countries: list[str],
    actor: Any,
) -> ExpiryPolicy:
    """Set the coalition's expiry policy (the row in force, made if there is none).
    A lot's date is fixed when it is earned, so new months apply to points earned
    from now on; the inactivity rule and the country list apply at the next run
    of the expiry job. Audited; the same values again record nothing."""
    if mode not in ExpiryMode.values:
        raise ExpiryPolicyInvalid("Choose fixed months or inactivity", field="mode")
    for field, value in (("months", months), ("inactivity_months", inactivity_months)):
        if not 1 <= value <= MAX_MONTHS:
            raise ExpiryPolicyInvalid(
                f"Months are a whole number from 1 to {MAX_MONTHS}", field=field
            )
    if not 1 <= reminder_days <= MAX_REMINDER_DAYS:
        raise ExpiryPolicyInvalid(
            f"The reminder goes 1 to {MAX_REMINDER_DAYS} days before", field="reminder_days"
        )
    after: dict[str, Any] = {
        "mode": mode, "months": months, "inactivity_months": inactivity_months,
        "reminder_days": reminder_days,
        "inactivity_only_countries": _countries(inactivity_only_countries),
    }  # fmt: skip
    with transaction.atomic():
        # the first row is the one in force (``expiry_policy_sql``); lock it, or
        # serialise the first creation on the table
        policy = ExpiryPolicy.objects.select_for_update().order_by("id").first()
        if policy is None:
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE public.expiry_expirypolicy IN SHARE ROW EXCLUSIVE MODE")
            policy = ExpiryPolicy.objects.order_by("id").first()
        before = _policy_values(policy) if policy is not None else None
        if policy is not None and before == after:
            return policy
        policy = policy or ExpiryPolicy()
        for name, new in after.items():
            setattr(policy, name, new)
        policy.save()
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.expiry_policy_change",
            target=("expiry_policy", policy.pk),
            before=before,
            after=after,
        )
    return policy
