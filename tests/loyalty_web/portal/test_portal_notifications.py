"""E-mail choices in the member portal: a switch per kind on the profile page, each
change recorded; the public unsubscribe page an e-mail links to (valid, tampered,
already off, the mail client's one-click POST without a session or CSRF token).
Refused requests change nothing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from coalition.members.models import Member, MemberChange
from coalition.members.services import member_enrol
from coalition.notifications.models import NotificationPreference
from coalition.notifications.selectors import notification_preferences
from coalition.notifications.services import notification_preference_set, unsubscribe_token
from tests.testkit import host_client
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db

ALL_ON = {
    "points_earned": "on",
    "reward_redeemed": "on",
    "points_expiring": "on",
    "tier_changed": "on",
}


def _member() -> Member:
    return member_enrol(email=f"choices-{uuid4().hex[:10]}@example.com")


def _state() -> Any:
    return (
        sorted(NotificationPreference.objects.values_list("member_id", "kind", "enabled")),
        MemberChange.objects.count(),
    )


def test_a_member_switches_an_email_off_on_their_profile_and_the_change_is_recorded() -> None:
    # given a signed-in member: every switch is on
    member = _member()
    client = portal_client(member)
    page = client.get("/portal/profile/").content.decode()
    assert "E-mails we send you" in page
    assert page.count('type="checkbox"') >= 4

    # when they untick the daily summary and save
    saved = client.post(
        "/portal/profile/notifications/", {**ALL_ON, "points_earned": ""}, follow=True
    )

    # then it is off, the others on, and the change is listed with the others
    assert saved.status_code == 200
    page = saved.content.decode()
    assert "Your e-mail choices are saved." in page
    assert "A summary of the points you earned: switched off" in page
    assert notification_preferences(member.pk) == {
        "points_earned": False,
        "reward_redeemed": True,
        "points_expiring": True,
        "tier_changed": True,
    }
    # and saving the same again changes nothing
    before = _state()
    again = client.post(
        "/portal/profile/notifications/", {**ALL_ON, "points_earned": ""}, follow=True
    )
    assert "Nothing changed." in again.content.decode()
    assert _state() == before


def test_signed_out_visitors_and_posts_without_csrf_change_no_choices() -> None:
    member = _member()
    before = _state()
    # anonymous: sent to sign in
    anonymous = host_client(public_host()).post("/portal/profile/notifications/", {})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/portal/sign-in/")
    # signed in, without the CSRF token: refused
    client = portal_client(member)
    client.handler.enforce_csrf_checks = True
    assert client.post("/portal/profile/notifications/", {}).status_code == 403
    assert _state() == before


def test_the_unsubscribe_link_shows_what_stops_then_stops_it_without_signing_in() -> None:
    # given a member's link from a digest e-mail, opened by someone not signed in
    member = _member()
    url = f"/portal/unsubscribe/{unsubscribe_token(member.pk, 'points_earned')}/"
    client = host_client(public_host())

    # when they open it: it says what stops, and a GET changes nothing
    before = _state()
    shown = client.get(url)
    assert shown.status_code == 200
    assert "A summary of the points you earned" in shown.content.decode()
    assert "Stop these e-mails" in shown.content.decode()
    assert _state() == before

    # when they press the button
    done = client.post(url)

    # then that kind is off, the change recorded, and opening it again says so
    assert "Done. You will no longer get" in done.content.decode()
    assert notification_preferences(member.pk)["points_earned"] is False
    assert notification_preferences(member.pk)["tier_changed"] is True
    assert MemberChange.objects.get(member=member).channel == "unsubscribe link"
    assert "already off" in client.get(url).content.decode()
    assert "already off" in client.post(url).content.decode()
    assert MemberChange.objects.filter(member=member).count() == 1


def test_a_mail_clients_one_click_post_works_without_a_csrf_token() -> None:
    # given a member's reminder link and a client that enforces CSRF like a browser
    member = _member()
    url = f"/portal/unsubscribe/{unsubscribe_token(member.pk, 'points_expiring')}/"
    client = host_client(public_host())
    client.handler.enforce_csrf_checks = True

    # when the mail client posts the RFC 8058 body
    answer = client.post(url, {"List-Unsubscribe": "One-Click"})

    # then reminders are off
    assert answer.status_code == 200
    assert notification_preferences(member.pk)["points_expiring"] is False


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_unsubscribe_link_is_refused_clearly_and_changes_nothing(method: str) -> None:
    # given a member's link, altered to name another member
    member, other = _member(), _member()
    token = unsubscribe_token(member.pk, "tier_changed")
    forged = unsubscribe_token(other.pk, "tier_changed").split(":")[0] + ":" + token.split(":")[1]
    before = _state()

    # when it is opened or posted
    client = host_client(public_host())
    answers = [getattr(client, method)(f"/portal/unsubscribe/{bad}/") for bad in (forged, "x")]

    # then a clear error page, and nobody's choices changed
    for answer in answers:
        assert answer.status_code == 400
        assert "This unsubscribe link is not valid." in answer.content.decode()
    assert _state() == before


def test_a_link_for_a_kind_already_off_says_so() -> None:
    member = _member()
    notification_preference_set(member_id=member.pk, kind="tier_changed", enabled=False)
    url = f"/portal/unsubscribe/{unsubscribe_token(member.pk, 'tier_changed')}/"
    page = host_client(public_host()).get(url).content.decode()
    assert "This e-mail is already off" in page
    assert "Stop these e-mails</button>" not in page
