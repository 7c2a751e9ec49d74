"""The programme pages at work: the overview of what is in force; tier levels
listed with CSV, added above the highest (a double submit adds one), edited
within their neighbours' thresholds, each refusal shown next to its field and
changing nothing; the qualification and grace rules; charities listed with CSV,
added once per form, edited, and their donations stopped and reopened. Every
change is in the audit log with the operator who made it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from coalition.audit.models import AuditEntry
from coalition.charity.models import Charity
from coalition.charity.services import charity_create
from coalition.tiers.models import TierLevel, TierPolicy
from tests.testkit.operator import operator, signed_in

pytestmark = pytest.mark.django_db


def _levels() -> list[tuple[str, str, int, int]]:
    return list(TierLevel.objects.order_by("rank").values_list(
        "code", "name", "rank", "threshold_points"))  # fmt: skip


def _csv(response: Any) -> list[str]:
    assert response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content).decode().splitlines()


def _add_level(client: Any, code: str, name: str, points: int, key: str | None = None) -> Any:
    return client.post("/operator/programme/tiers/add/", {
        "code": code, "name": name, "threshold_points": str(points),
        "request_key": key or uuid4().hex})  # fmt: skip


@pytest.fixture
def admin_client() -> Any:
    return signed_in(operator("admin"))


def test_levels_are_added_above_the_highest_and_listed_with_csv(admin_client: Any) -> None:
    # when an admin adds the entry level, then silver above it
    assert _add_level(admin_client, "basic", "Basic", 0).status_code == 302
    assert _add_level(admin_client, "silver", "Silver", 1000).status_code == 302
    # then they are ranked in order, listed and exported
    assert _levels() == [("basic", "Basic", 0, 0), ("silver", "Silver", 1, 1000)]
    html = admin_client.get("/operator/programme/tiers/").content.decode()
    assert "Silver" in html
    assert "entry level" in html
    lines = _csv(admin_client.get("/operator/programme/tiers/?format=csv"))
    assert lines == ["rank,code,name,qualifying_points", "0,basic,Basic,0", "1,silver,Silver,1000"]
    # and each addition is audited with the operator
    entries = AuditEntry.objects.filter(action="programme.tier_level_add").order_by("id")
    assert [e.object_id for e in entries] == ["basic", "silver"]
    assert entries[1].after["threshold_points"] == 1000
    assert entries[1].partner_id is None


def test_a_double_submit_adds_one_level(admin_client: Any) -> None:
    key = uuid4().hex
    first = _add_level(admin_client, "basic", "Basic", 0, key)
    second = _add_level(admin_client, "basic", "Basic", 0, key)
    assert first.status_code == second.status_code == 302
    assert _levels() == [("basic", "Basic", 0, 0)]
    assert AuditEntry.objects.filter(action="programme.tier_level_add").count() == 1


@pytest.mark.parametrize(
    ("code", "name", "points", "message"),
    [
        ("gold", "Gold", 1000, "it needs more than 1000 qualifying points"),
        ("gold", "Gold", 500, "it needs more than 1000 qualifying points"),
        ("silver", "Silver again", 9000, "There is a level with the code silver already"),
        ("Gold Card", "Gold", 9000, "lowercase letters"),
        ("add", "Add", 9000, "lowercase letters"),
        ("gold", "Gold", -1, "Qualifying points cannot be negative"),
    ],
)
def test_a_refused_level_is_explained_next_to_its_field_and_changes_nothing(
    admin_client: Any, code: str, name: str, points: int, message: str
) -> None:
    _add_level(admin_client, "basic", "Basic", 0)
    _add_level(admin_client, "silver", "Silver", 1000)
    before, audited = _levels(), AuditEntry.objects.count()
    response = _add_level(admin_client, code, name, points)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _levels() == before
    assert AuditEntry.objects.count() == audited


def test_a_level_is_renamed_and_moved_only_between_its_neighbours(admin_client: Any) -> None:
    for code, points in (("basic", 0), ("silver", 1000), ("gold", 5000)):
        _add_level(admin_client, code, code.title(), points)
    # a threshold at or past a neighbour's is refused, and changes nothing
    for points in (0, 5000, 7000):
        response = admin_client.post(
            "/operator/programme/tiers/silver/", {"name": "Silver", "threshold_points": points}
        )
        assert response.status_code == 400, points
        assert "qualifying points than" in response.content.decode()
    assert AuditEntry.objects.filter(action="programme.tier_level_change").count() == 0
    # one between them is saved and audited with the values before and after
    response = admin_client.post(
        "/operator/programme/tiers/silver/", {"name": "Silver plus", "threshold_points": "2500"}
    )
    assert response.status_code == 302
    assert _levels()[1] == ("silver", "Silver plus", 1, 2500)
    (entry,) = AuditEntry.objects.filter(action="programme.tier_level_change")
    assert entry.before["threshold_points"] == 1000
    assert entry.after == {"code": "silver", "name": "Silver plus", "rank": 1,
                           "threshold_points": 2500}  # fmt: skip
    # the same values again record nothing
    admin_client.post(
        "/operator/programme/tiers/silver/", {"name": "Silver plus", "threshold_points": "2500"}
    )
    assert AuditEntry.objects.filter(action="programme.tier_level_change").count() == 1
    assert admin_client.get("/operator/programme/tiers/nothing/").status_code == 404


def test_qualification_and_grace_are_set_and_audited(admin_client: Any) -> None:
    page = admin_client.get("/operator/programme/tiers/policy/").content.decode()
    assert "Rolling 12 months" in page
    response = admin_client.post(
        "/operator/programme/tiers/policy/", {"qualification": "calendar_year", "grace_days": 45}
    )
    assert response.status_code == 302
    assert list(TierPolicy.objects.values_list("qualification", "grace_days")) == [
        ("calendar_year", 45)
    ]
    (entry,) = AuditEntry.objects.filter(action="programme.tier_policy_change")
    assert entry.after == {"qualification": "calendar_year", "grace_days": 45}
    html = admin_client.get("/operator/programme/tiers/").content.decode()
    assert "Calendar year" in html
    assert "<dd>45</dd>" in html
    # a negative grace is refused and changes nothing
    refused = admin_client.post(
        "/operator/programme/tiers/policy/", {"qualification": "calendar_year", "grace_days": -3}
    )
    assert refused.status_code == 400
    assert TierPolicy.objects.get().grace_days == 45


def _add_charity(client: Any, slug: str, key: str | None = None, **extra: str) -> Any:
    data = {"slug": slug, "name": "Food Bank", "registration_number": "R-1",
            "currency": "EUR", "point_value": "0.5", "stripe_account_id": "",
            "request_key": key or uuid4().hex, **extra}  # fmt: skip
    return client.post("/operator/programme/charities/add/", data)


def test_a_double_submit_adds_one_charity_with_its_account(admin_client: Any) -> None:
    slug, key = f"food-{uuid4().hex[:8]}", uuid4().hex
    first = _add_charity(admin_client, slug, key)
    second = _add_charity(admin_client, slug, key)
    assert first.status_code == second.status_code == 302
    charity = Charity.objects.get(slug=slug)
    assert charity.point_value == Decimal("0.5")
    assert charity.account_id is not None
    assert AuditEntry.objects.filter(action="programme.charity_add", object_id=slug).count() == 1
    html = admin_client.get("/operator/programme/charities/").content.decode()
    assert "Food Bank" in html
    lines = _csv(admin_client.get("/operator/programme/charities/?format=csv"))
    assert lines[0] == (
        "slug,name,registration_number,currency,point_value,stripe_account,active,added"
    )
    assert any(line.startswith(f"{slug},Food Bank,R-1,EUR,0.500000,,yes,") for line in lines)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "taken", "There is a charity with the short name taken already"),
        ("slug", "Not A Slug", "lowercase letters"),
        ("currency", "XXY", "unknown currency"),
        ("point_value", "-1", "A point&#x27;s value cannot be negative"),
        ("name", "", "Enter the charity&#x27;s name"),
    ],
)
def test_a_refused_charity_is_explained_and_changes_nothing(
    admin_client: Any, field: str, value: str, message: str
) -> None:
    charity_create(slug="taken", name="Taken")
    before = (Charity.objects.count(), AuditEntry.objects.count())
    data = {"slug": f"new-{uuid4().hex[:6]}", field: value}
    response = _add_charity(admin_client, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (Charity.objects.count(), AuditEntry.objects.count()) == before


def test_a_charity_is_edited_then_its_donations_stopped_and_reopened_once_each(
    admin_client: Any,
) -> None:
    charity = charity_create(slug=f"cross-{uuid4().hex[:6]}", name="Red Cross")
    url = f"/operator/programme/charities/{charity.slug}/"
    edit = {"name": "Red Cross Spain", "point_value": "0.8", "registration_number": "G-28"}
    response = admin_client.post(url, {**edit, "stripe_account_id": ""})
    assert response.status_code == 302
    charity.refresh_from_db()
    assert (charity.name, charity.point_value) == ("Red Cross Spain", Decimal("0.8"))
    (entry,) = AuditEntry.objects.filter(action="programme.charity_change")
    assert entry.before["name"] == "Red Cross"
    assert entry.after["name"] == "Red Cross Spain"
    # stopped twice: one change, one audit entry
    admin_client.post(url + "inactive/")
    admin_client.post(url + "inactive/")
    charity.refresh_from_db()
    assert charity.is_active is False
    assert AuditEntry.objects.filter(action="programme.charity_deactivate").count() == 1
    assert "Closed" in admin_client.get("/operator/programme/charities/").content.decode()
    admin_client.post(url + "active/")
    charity.refresh_from_db()
    assert charity.is_active is True
    assert AuditEntry.objects.filter(action="programme.charity_reactivate").count() == 1
    assert admin_client.post(url + "sideways/").status_code == 404


def test_the_overview_shows_what_is_in_force(admin_client: Any) -> None:
    _add_level(admin_client, "basic", "Basic", 0)
    _add_level(admin_client, "gold", "Gold", 5000)
    charity_create(slug=f"ov-{uuid4().hex[:6]}", name="Food Bank")
    html = admin_client.get("/operator/programme/").content.decode()
    assert "Gold (from 5,000 points)" in html or "Gold (from 5000 points)" in html
    assert "Rolling 12 months" in html
    assert "months after they are earned" in html
    assert "Taking donations" in html
