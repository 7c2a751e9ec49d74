"""The partner's adjustments list: every adjustment with when, the member, added or
taken back, the points, the reason and who; filtered by the partner's days, a page at
a time (the filters kept), and the same rows as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from coalition.adjustments import services as adjustments
from coalition.adjustments.models import Adjustment
from coalition.adjustments.selectors import local_day
from coalition.members.models import Member
from loyalty_web.console import adjustments as adjustments_page
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.console import login_as

pytestmark = pytest.mark.django_db


def _adjust(partner: Partner, member: Member, points: int, reason: str, who: Any) -> Adjustment:
    return adjustments.adjust_points(
        partner=partner, member=member, points=points, reason=reason, actor=who,
        idempotency=None,
    ).adjustment  # fmt: skip


def _csv(client: Any, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/adjustments/?format=csv{query}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_list_shows_each_adjustment_and_the_csv_the_same_rows(
    partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000_000
    # given a manager who added 120 points to a member and took 20 back
    client, user = login_as(partner_a, "manager", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-list")
    added = _adjust(partner_a, member, 120, "parcel delivered late", user)
    taken = _adjust(partner_a, member, -20, "points given twice", user)
    # when they open the list
    page = client.get("/adjustments/")
    # then both are there, newest first, with the member's link, the kind, points, reason, who
    assert page.status_code == 200
    text = page.content.decode()
    assert f'href="/members/{member.member_number}/"' in text
    assert text.index("points given twice") < text.index("parcel delivered late")
    assert "Taken back" in text
    assert "Added" in text
    assert "+120" in text
    assert "-20" in text
    assert user.email in text
    # and the CSV has the same rows
    rows = [r for r in _csv(client) if r["member_number"] == member.member_number]
    assert [(r["kind"], r["points"], r["reason"], r["who"], r["transaction"]) for r in rows] == [
        ("taken_back", "-20", "points given twice", user.email, str(taken.ledger_transaction_id)),
        ("added", "120", "parcel delivered late", user.email, str(added.ledger_transaction_id)),
    ]
    assert rows[0]["balance_after"] == "100"
    assert rows[0]["day"] == local_day(partner_a).isoformat()


def test_the_days_filter_the_list_and_the_csv(
    partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000_000
    client, user = login_as(partner_a, "owner", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-days")
    today = _adjust(partner_a, member, 30, "adjusted today", user)
    old = _adjust(partner_a, member, 40, "adjusted long ago", user)
    Adjustment.objects.filter(pk=old.pk).update(local_day=date(2025, 3, 1))
    day = today.local_day.isoformat()
    # when the list is filtered to today, then only today's adjustment shows
    text = client.get("/adjustments/", {"since": day, "until": day}).content.decode()
    assert "adjusted today" in text
    assert "adjusted long ago" not in text
    # and March 2025 shows only the old one, in the CSV too
    march = _csv(client, "&since=2025-03-01&until=2025-03-31")
    assert [r["reason"] for r in march if r["member_number"] == member.member_number] == [
        "adjusted long ago"
    ]
    # an end before the start is refused next to the field, listing nothing
    refused = client.get(
        "/adjustments/", {"since": day, "until": (today.local_day - timedelta(days=1)).isoformat()}
    )
    assert refused.status_code == 400
    assert "The end date must be on or after the start date" in refused.content.decode()
    assert 'id="id_until-error"' in refused.content.decode()


def test_the_list_pages_keep_the_filters(
    partner_a: Partner, partner_b: Partner, settings: Any, monkeypatch: Any
) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000_000
    monkeypatch.setattr(adjustments_page, "PAGE_SIZE", 2)
    client, user = login_as(partner_a, "owner", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-pages")
    for n in range(3):
        _adjust(partner_a, member, 10 + n, f"reason number {n}", user)
    day = local_day(partner_a).isoformat()
    # when the first page is read with a filter, then it holds the two newest
    first = client.get("/adjustments/", {"since": day})
    assert first.context["page"].items[0].reason == "reason number 2"
    next_query = first.context["next_query"]
    assert next_query is not None
    assert f"since={day}" in next_query
    # and the next page continues after them, with the filter
    second = client.get(f"/adjustments/?{next_query}")
    assert [row.reason for row in first.context["page"].items] == [
        "reason number 2",
        "reason number 1",
    ]
    # (older adjustments other tests committed may follow ours, never precede them)
    assert second.context["page"].items[0].reason == "reason number 0"
    assert 'rel="next"' in first.content.decode()
