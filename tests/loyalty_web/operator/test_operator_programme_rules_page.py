"""The coalition rules page at work: the defaults shown until an admin sets the
rules; a change with a reason saved, shown in force and in the history (CSV); a
value out of range or a missing reason refused next to its field, changing
nothing; the same values again saying nothing changed; read-only staff read the
rules and history without the form; the programme overview names them."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.rules.models import CoalitionRules
from coalition.rules.selectors import coalition_rules
from tests.testkit.operator import operator, signed_in

pytestmark = pytest.mark.django_db

URL = "/operator/programme/rules/"
CHANGE = {"adjustment_daily_cap": "2500", "goodwill_approval_threshold": "300",
          "reason": "fraud seen at one partner"}  # fmt: skip


def _csv(response: Any) -> list[str]:
    assert response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content).decode().splitlines()


def test_an_admin_changes_the_rules_and_reads_their_history(settings: Any) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000
    settings.LOYALTY_GOODWILL_APPROVAL_THRESHOLD = 1_000
    client = signed_in(operator("admin"))
    # given no rules set: the defaults, and the form filled with them
    html = client.get(URL).content.decode()
    assert "the installation's defaults apply" in html
    assert 'value="10000"' in html
    assert "No changes yet" in html
    # when the admin saves new rules with a reason
    response = client.post(URL, CHANGE, follow=True)
    # then they are in force, and the page says so and lists the change
    assert (coalition_rules().adjustment_daily_cap, coalition_rules().goodwill_approval_threshold) \
        == (2500, 300)  # fmt: skip
    html = response.content.decode()
    assert "Coalition rules saved." in html
    assert "10,000 → 2,500" in html
    assert "fraud seen at one partner" in html
    lines = _csv(client.get(URL, {"format": "csv"}))
    assert lines[0] == (
        "changed_at,changed_by,adjustment_daily_cap_before,adjustment_daily_cap,"
        "goodwill_approval_threshold_before,goodwill_approval_threshold,reason"
    )
    assert lines[1].endswith(",10000,2500,1000,300,fraud seen at one partner")
    # and the overview names them
    overview = client.get("/operator/programme/").content.decode()
    assert "Partners adjust at most 2,500 points a day each" in overview
    # the same values again change nothing
    again = client.post(URL, {**CHANGE, "reason": "again"}, follow=True).content.decode()
    assert "Nothing to change: these rules are in force already." in again
    assert AuditEntry.objects.filter(action="programme.rules_change").count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"adjustment_daily_cap": "-1"}, "Enter 0 or more points"),
        ({"goodwill_approval_threshold": "many"}, "Enter a whole number of points, like 1000"),
        ({"adjustment_daily_cap": "100000001"}, "Enter a number of points from 0 to 100,000,000"),
        ({"reason": ""}, "Enter the reason for this change"),
    ],
)
def test_a_bad_value_is_refused_next_to_its_field_and_changes_nothing(
    change: dict[str, str], message: str
) -> None:
    client = signed_in(operator("admin"))
    response = client.post(URL, {**CHANGE, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CoalitionRules.objects.exists()
    assert not AuditEntry.objects.filter(action="programme.rules_change").exists()


def test_read_only_staff_read_the_rules_without_the_form() -> None:
    signed_in(operator("admin")).post(URL, CHANGE)
    html = signed_in(operator("read_only")).get(URL).content.decode()
    assert "2,500 points" in html
    assert "fraud seen at one partner" in html
    assert "Save the coalition rules" not in html
