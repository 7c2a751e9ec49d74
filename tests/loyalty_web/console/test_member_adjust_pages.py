"""The adjustment page: the check page shows the balance after and the cap left
today; the confirmation posts once however often it is pressed; the domain's
refusals (reason, balance, cap) land next to their field and change nothing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from coalition.adjustments.models import Adjustment
from coalition.audit.models import AuditEntry
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.console import login_as

pytestmark = pytest.mark.django_db


def _post(client: Any, number: str, **fields: str) -> Any:
    data = {
        "direction": "add",
        "points": "40",
        "reason": "parcel delivered late",
        "idempotency_key": "k-" + uuid4().hex,
        "step": "check",
    }
    data.update(fields)
    return client.post(f"/members/{number}/adjust/", data)


def test_the_check_page_shows_the_balance_after_and_the_cap_left(
    partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000_000
    client, _user = login_as(partner_a, "manager", partner_b)
    member = funded_member(partner_a, 100, prefix="adjust-page")
    page = _post(client, member.member_number, direction="take_back", points="30")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Take back 30 points" in text
    assert "70 points" in text  # the balance after
    assert 'name="step" value="confirm"' in text
    assert ledger_selectors.balance(member.pk) == 100  # a check posts nothing


def test_a_double_press_of_confirm_adjusts_once_and_is_audited(
    partner_a: Partner, partner_b: Partner
) -> None:
    client, user = login_as(partner_a, "owner", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-twice")
    key = uuid4().hex
    first = _post(client, member.member_number, step="confirm", idempotency_key=key)
    second = _post(client, member.member_number, step="confirm", idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"/members/{member.member_number}/"
    assert ledger_selectors.balance(member.pk) == 40
    assert Adjustment.objects.filter(member=member).count() == 1
    audit = AuditEntry.objects.get(action="points.adjust", object_id=member.member_number)
    assert audit.actor_id == user.pk
    assert audit.after is not None
    assert audit.after["reason"] == "parcel delivered late"
    history = client.get(f"/members/{member.member_number}/history/").content.decode()
    assert "Points added by the partner" in history


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"reason": "  "}, "reason", "Enter the reason for this adjustment"),
        ({"points": "0"}, "points", "Enter a number of points of 1 or more"),
        ({"direction": ""}, "direction", "Choose whether to add points or take points back"),
        (
            {"direction": "take_back", "points": "101", "step": "confirm"},
            "points",
            "The member holds 100 points your business issued",
        ),
    ],
)
def test_refusals_land_next_to_their_field_and_change_nothing(
    partner_a: Partner, partner_b: Partner, fields: dict[str, str], field: str, message: str
) -> None:
    client, _user = login_as(partner_a, "manager", partner_b)
    member = funded_member(partner_a, 100, prefix="adjust-refused")
    transactions = Transaction.objects.filter(member_id=member.pk).count()
    page = _post(client, member.member_number, **fields)
    assert page.status_code == 400
    text = page.content.decode()
    assert "There is a problem" in text
    assert f'id="id_{field}-error"' in text or f'id="id_{field}_0-error"' in text
    assert message in text
    assert Transaction.objects.filter(member_id=member.pk).count() == transactions
    assert not Adjustment.objects.filter(member=member).exists()


def test_the_daily_cap_is_shown_and_enforced_on_confirmation(
    partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    from coalition.adjustments.selectors import cap_today

    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = cap_today(partner_a).used + 50
    client, _user = login_as(partner_a, "manager", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-cap")
    check = _post(client, member.member_number, points="60")
    assert "more points today" in check.content.decode()
    assert 'name="step" value="confirm"' not in check.content.decode()
    refused = _post(client, member.member_number, points="60", step="confirm")
    assert refused.status_code == 400
    assert "daily limit" in refused.content.decode()
    assert ledger_selectors.balance(member.pk) == 0


def test_taking_back_another_partners_points_is_refused_at_the_check_and_on_confirm(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a member with 100 points from A and 500 from B
    client, _user = login_as(partner_a, "manager", partner_b)
    member = funded_member(partner_a, 100, prefix="adjust-theirs")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=500)
    transactions = Transaction.objects.filter(member_id=member.pk).count()
    # when A checks taking back 150: within the balance, beyond what A issued
    check = _post(client, member.member_number, direction="take_back", points="150")
    # then the check says so and offers no confirmation
    text = check.content.decode()
    assert "The member holds only 100 points your business issued" in text
    assert 'name="step" value="confirm"' not in text
    # and a forced confirmation is refused next to the points, changing nothing
    refused = _post(
        client, member.member_number, direction="take_back", points="150", step="confirm"
    )
    assert refused.status_code == 400
    assert 'id="id_points-error"' in refused.content.decode()
    assert "The member holds 100 points your business issued" in refused.content.decode()
    assert Transaction.objects.filter(member_id=member.pk).count() == transactions
    assert ledger_selectors.balance(member.pk) == 600
    assert not Adjustment.objects.filter(member=member).exists()


def test_the_dashboard_shows_the_points_adjusted_today(
    partner_a: Partner, partner_b: Partner, settings: Any
) -> None:
    # given an owner whose dashboard counts adjustments apart from points issued
    settings.LOYALTY_ADJUSTMENT_DAILY_CAP = 10_000_000
    client, _user = login_as(partner_a, "owner", partner_b)
    member = funded_member(partner_a, 0, prefix="adjust-dashboard")
    page = client.get("/")
    added_before = page.context["today"].adjusted_added
    taken_before = page.context["today"].adjusted_taken_back
    issued_before = page.context["today"].issued
    # when a manager adds 1,234 points and takes 34 back
    _post(client, member.member_number, points="1234", step="confirm")
    _post(client, member.member_number, direction="take_back", points="34", step="confirm")
    # then the dashboard shows them under adjustments, not as points issued
    page = client.get("/")
    today = page.context["today"]
    assert today.adjusted_added - added_before == 1234
    assert today.adjusted_taken_back - taken_before == 34
    assert today.issued == issued_before
    text = page.content.decode()
    assert "Points added by adjustments" in text
    assert f"{today.adjusted_taken_back:,} taken back" in text
