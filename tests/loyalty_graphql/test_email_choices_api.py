"""A member's own e-mail choices over the coalition API: ``myEmailChoices`` lists
every kind of service e-mail on or off, ``updateMyEmailChoices`` switches the kinds
named (recorded among the member's profile changes, channel ``app``), the same
choices the portal's profile page switches. An unknown kind is a typed error that
changes nothing; a fixed number of statements each."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.members.models import MemberChange
from coalition.notifications.models import NotificationPreference
from coalition.notifications.selectors import notification_enabled, notification_preferences
from coalition.notifications.services import notification_preference_set
from loyalty_graphql.auth import member_token_issue
from tests.testkit import api as s

pytestmark = pytest.mark.django_db

KINDS = ["points_earned", "reward_redeemed", "points_expiring", "tier_changed"]


def _update(token: str, choices: list[dict[str, Any]], key: str = "e1") -> dict[str, Any]:
    variables = {"key": key, "choices": choices}
    payload: dict[str, Any] = s.gql(
        s.PUBLIC_HOST, s.UPDATE_MY_EMAIL_CHOICES, variables, token
    ).payload("updateMyEmailChoices")
    return payload


def _mine(token: str) -> list[dict[str, Any]]:
    choices: list[dict[str, Any]] = s.gql(
        s.PUBLIC_HOST, s.MY_EMAIL_CHOICES_QUERY, {}, token
    ).payload("myEmailChoices")
    return choices


def test_a_member_reads_every_kind_on_until_they_switch_it_off() -> None:
    # given: a member who chose nothing
    member = s.enrol("choices")

    # when: their app reads their e-mail choices
    choices = _mine(member_token_issue(member.pk))

    # then: every kind, on, with what it is about
    assert [(c["kind"], c["enabled"]) for c in choices] == [(kind, True) for kind in KINDS]
    assert choices[0]["label"] == "Points earned (a daily summary)"


def test_a_member_switches_kinds_off_and_on_and_each_change_is_recorded() -> None:
    # given: a member who switched tier e-mails off in the portal
    member = s.enrol("switch")
    notification_preference_set(member_id=member.pk, kind="tier_changed", enabled=False)
    token = member_token_issue(member.pk)

    # when: their app switches points-earned off and tier changes back on
    answer = _update(
        token,
        [{"kind": "points_earned", "enabled": False}, {"kind": "tier_changed", "enabled": True}],
    )

    # then: the answer lists every kind after the change, and what changed
    assert answer["errors"] == []
    assert answer["changed"] == ["points_earned", "tier_changed"]
    assert {c["kind"]: c["enabled"] for c in answer["choices"]} == {
        "points_earned": False, "reward_redeemed": True,
        "points_expiring": True, "tier_changed": True,
    }  # fmt: skip
    # and: the portal, the mailers and the query see the same choices
    assert notification_preferences(member.pk)["points_earned"] is False
    assert not notification_enabled(member.pk, "points_earned")
    assert _mine(token) == answer["choices"]
    # and: each change is in the member's profile changes, from the app
    changes = MemberChange.objects.filter(member=member, channel="app").order_by("pk")
    assert [(c.field, c.change) for c in changes] == [
        ("notify_points_earned", "off"),
        ("notify_tier_changed", "on"),
    ]


def test_switching_to_what_it_already_is_records_nothing() -> None:
    # given: a member with every kind on
    member = s.enrol("same")

    # when: their app switches reward e-mails "on"
    answer = _update(member_token_issue(member.pk), [{"kind": "reward_redeemed", "enabled": True}])

    # then: nothing changed and nothing recorded
    assert answer["errors"] == []
    assert answer["changed"] == []
    assert not MemberChange.objects.filter(member=member).exists()


def test_an_unknown_kind_is_a_typed_error_and_changes_nothing() -> None:
    # given: a member
    member = s.enrol("unknown-kind")
    token = member_token_issue(member.pk)

    # when: the app names a known kind and one that does not exist
    answer = _update(
        token,
        [{"kind": "points_earned", "enabled": False}, {"kind": "newsletter", "enabled": False}],
    )

    # then: UNKNOWN_NOTIFICATION_KIND on the kind, no choices, and nothing switched
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [
        ("UNKNOWN_NOTIFICATION_KIND", "kind")
    ]
    assert answer["choices"] is None
    assert answer["changed"] is None
    assert not NotificationPreference.objects.filter(member=member).exists()
    assert not MemberChange.objects.filter(member=member).exists()
    # and: the key was not used up: a corrected request under it acts
    assert _update(token, [{"kind": "points_earned", "enabled": False}])["changed"] == [
        "points_earned"
    ]


def test_a_member_changes_only_their_own_choices() -> None:
    # given: two members
    alice, bob = s.enrol("alice"), s.enrol("bob")

    # when: Alice's app switches every kind off
    _update(member_token_issue(alice.pk), [{"kind": k, "enabled": False} for k in KINDS])

    # then: Bob's choices are untouched
    assert all(c["enabled"] for c in _mine(member_token_issue(bob.pk)))


def test_email_choices_cost_a_fixed_number_of_statements() -> None:
    # given: a member with a token already used once (its first use is noted)
    member = s.enrol("count")
    token = member_token_issue(member.pk)
    _mine(token)

    # when: the app reads the choices, switches one kind, then names all four
    with CaptureQueriesContext(connection) as read:
        _mine(token)
    with CaptureQueriesContext(connection) as one:
        _update(token, [{"kind": "points_earned", "enabled": False}], key="one")
    with CaptureQueriesContext(connection) as four:
        _update(token, [{"kind": k, "enabled": True} for k in KINDS], key="four")

    # then: the read is the search path and one SELECT of every choice. A switch is
    # the key's claim and answer, then per kind named (four at most) the member's
    # lock, the choice read, written and recorded in savepoints, then the list again
    assert len(read) == 2, [q["sql"] for q in read]
    assert len(one) == 20, [q["sql"] for q in one]
    assert len(four) == 30, [q["sql"] for q in four]
