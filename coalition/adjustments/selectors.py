"""Reads of points adjustments: the daily cap, what a partner has adjusted on its
local day and what is left of the cap, and a partner's adjustments newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db.models import Func, QuerySet, Sum

from coalition.adjustments.models import Adjustment
from coalition.rules.selectors import coalition_rules
from loyalty_kernel import clock
from tenants.partners.models import Partner


def daily_cap() -> int:
    """Points a partner may adjust per local day, adding and taking back alike: the
    coalition rule the operator sets (``coalition.rules``; before that, setting
    ``LOYALTY_ADJUSTMENT_DAILY_CAP``)."""
    return coalition_rules().adjustment_daily_cap


def local_day(partner: Partner, now: datetime | None = None) -> date:
    """The partner's calendar day at ``now`` (default: the application clock)."""
    return (now or clock.now()).astimezone(ZoneInfo(partner.time_zone)).date()


def adjusted_on(partner_id: int, day: date) -> int:
    """Points the partner adjusted on its local ``day``, credits and debits alike."""
    total = Adjustment.objects.filter(partner_id=partner_id, local_day=day).aggregate(
        points=Sum(Func("points", function="abs"))
    )["points"]
    return int(total or 0)


@dataclass(frozen=True)
class CapToday:
    cap: int
    used: int

    @property
    def left(self) -> int:
        return max(self.cap - self.used, 0)


def cap_today(partner: Partner, now: datetime | None = None) -> CapToday:
    return CapToday(daily_cap(), adjusted_on(partner.pk, local_day(partner, now)))


def partner_adjustments(
    partner_id: int,
    *,
    since: date | None = None,
    until: date | None = None,
    before_id: int | None = None,
) -> QuerySet[Adjustment]:
    """The partner's adjustments, newest first, with their member: those of its local
    days ``since`` to ``until`` (both included), below ``before_id`` (a page cursor)."""
    rows = Adjustment.objects.filter(partner_id=partner_id).select_related("member")
    if since is not None:
        rows = rows.filter(local_day__gte=since)
    if until is not None:
        rows = rows.filter(local_day__lte=until)
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    return rows.order_by("-id")
