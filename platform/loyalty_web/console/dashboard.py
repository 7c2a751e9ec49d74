"""The console's home: today and the last 30 days at this partner, with a chart."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from coalition.analytics.selectors import partner_figures
from coalition.members.selectors import members_enrolled_count
from loyalty_kernel import clock
from loyalty_web.console.access import staff_page
from loyalty_web.console.views import console_context
from loyalty_web.design.charts import Series, daily_bars
from loyalty_web.design.pages import render_page

DAYS = 30


@staff_page("view_dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    partner = request.tenant  # type: ignore[attr-defined]
    zone = ZoneInfo(partner.time_zone)
    now = clock.now().astimezone(zone)
    today = now.date()
    figures = partner_figures(
        partner_id=partner.pk, time_zone=partner.time_zone, today=today, days=DAYS
    )
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    enrolled_today = members_enrolled_count(
        partner_id=partner.pk, since=midnight, until=midnight + timedelta(days=1)
    )
    enrolled_period = members_enrolled_count(
        partner_id=partner.pk,
        since=midnight - timedelta(days=DAYS - 1),
        until=midnight + timedelta(days=1),
    )
    days = [d.day for d in figures.days]
    chart = daily_bars(
        _("Points issued and redeemed per day, last %(n)s days") % {"n": DAYS},
        days,
        [
            Series(_("Issued"), [d.issued for d in figures.days], "bar-a"),
            Series(_("Redeemed"), [d.redeemed for d in figures.days], "bar-b"),
        ],
    )
    period = {
        "issued": sum(d.issued for d in figures.days),
        "redeemed": sum(d.redeemed for d in figures.days),
        "earns": sum(d.earns for d in figures.days),
        "redeems": sum(d.redeems for d in figures.days),
        "adjusted_added": sum(d.adjusted_added for d in figures.days),
        "adjusted_taken_back": sum(d.adjusted_taken_back for d in figures.days),
    }
    return render_page(
        request,
        "loyalty_web/console/dashboard.html",
        console_context(
            request,
            "dashboard",
            today=figures.today,
            period=period,
            active_period=figures.active_members_period,
            enrolled_today=enrolled_today,
            enrolled_period=enrolled_period,
            chart=chart,
            days=list(reversed(figures.days)),
            now=now,
            period_days=DAYS,
        ),
    )
