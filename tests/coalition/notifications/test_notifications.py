"""Member notifications: each sender e-mails once (the outbox), respects the member's
choice, carries the one-click unsubscribe headers and a text and an HTML part; the
points-earned digest sums per partner across partners, once a day, from where the
previous day's digest ended; a retried task sends nothing twice."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.expiry import services as expiry
from coalition.expiry.models import ExpiryPolicy
from coalition.ledger import services as ledger
from coalition.members.models import Member, MemberChange
from coalition.members.services import member_enrol, member_erase
from coalition.notifications import digest
from coalition.notifications.errors import InvalidUnsubscribeLink, UnknownNotificationKind
from coalition.notifications.models import (
    MemberLanguage,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationStatus,
)
from coalition.notifications.selectors import notification_preferences, notifications_export
from coalition.notifications.services import (
    notification_preference_set,
    notification_preferences_save,
    notification_send,
    notification_unsubscribe,
    unsubscribe_token,
    unsubscribe_token_read,
)
from coalition.tiers.models import QualificationPeriod, TierChange, TierLevel, TierPolicy
from coalition.tiers.notices import tier_change_notice_send
from coalition.tiers.services import tier_evaluate
from tenants.partners.models import Partner
from tenants.rewards.models import Voucher
from tenants.rewards.notices import voucher_notice_send
from tenants.rewards.self_service import member_reward_redeem
from tests.testkit import in_partner
from tests.testkit.api import reward, store

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"


def _member(name: str = "notify") -> Member:
    return member_enrol(email=f"{name}-{uuid.uuid4().hex[:10]}@example.com")


def _earn(member: Member, partner: Partner, points: int) -> None:
    ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)


def _to(member: Member) -> list[EmailMultiAlternatives]:
    return [message for message in mail.outbox if message.to == [member.email]]


def _html(message: Any) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(html)


def _db_now() -> Any:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


# --- the send service ---------------------------------------------------------------


def test_a_notification_is_sent_once_with_text_html_and_one_click_unsubscribe() -> None:
    # given a member
    member = _member()
    context = {"points": 120, "expires_on": timezone.now().date()}

    # when the same notification is sent twice (a retried task)
    first = notification_send(
        member_id=member.pk, kind="points_expiring", key="2027-01-01", context=context
    )
    second = notification_send(
        member_id=member.pk, kind="points_expiring", key="2027-01-01", context=context
    )

    # then one e-mail, recorded once in the outbox, and the retry sent nothing
    assert first is not None
    assert first.status == NotificationStatus.SENT
    assert second is None
    [message] = _to(member)
    assert message.subject.startswith("120 points expire on ")
    assert Notification.objects.filter(member=member).count() == 1
    url = message.extra_headers["List-Unsubscribe"]
    assert url.startswith(f"<{settings.LOYALTY_PUBLIC_URL}/portal/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == ONE_CLICK
    assert url[1:-1] in message.body
    assert url[1:-1] in _html(message)
    assert "<h1" in _html(message)


def test_a_kind_switched_off_sends_nothing_and_other_kinds_still_go() -> None:
    # given a member who switched expiry reminders off
    member = _member()
    notification_preference_set(member_id=member.pk, kind="points_expiring", enabled=False)

    # when a reminder and a tier change are sent
    skipped = notification_send(
        member_id=member.pk,
        kind="points_expiring",
        key="k",
        context={"points": 5, "expires_on": timezone.now().date()},
    )
    sent = notification_send(
        member_id=member.pk,
        kind="tier_changed",
        key="k",
        context={"upgrade": True, "from_name": "Blue", "to_name": "Silver"},
    )

    # then only the tier change is e-mailed; the reminder is recorded as skipped
    assert skipped is not None
    assert skipped.status == NotificationStatus.SKIPPED
    assert sent is not None
    assert sent.status == NotificationStatus.SENT
    assert [message.subject for message in _to(member)] == ["Welcome to Silver"]


def test_the_mail_is_written_in_the_members_language() -> None:
    # given a member who chose their e-mails in Spanish
    member = _member()
    notification_preferences_save(member_id=member.pk, choices={}, language="es")
    assert MemberLanguage.objects.get(member=member).language == "es"

    # when a tier change is sent
    notification_send(
        member_id=member.pk,
        kind="tier_changed",
        key="k",
        context={"upgrade": True, "from_name": "Azul", "to_name": "Plata"},
    )

    # then subject and body are Spanish
    [message] = _to(member)
    assert message.subject == "Bienvenido a Plata"
    assert "Azul" in message.body
    assert "Hola" in message.body


def test_an_unknown_kind_is_refused_and_changes_nothing() -> None:
    member = _member()
    with pytest.raises(UnknownNotificationKind):
        notification_preference_set(member_id=member.pk, kind="newsletter", enabled=False)
    with pytest.raises(UnknownNotificationKind):
        notification_send(member_id=member.pk, kind="newsletter", key="k", context={})
    assert not NotificationPreference.objects.filter(member=member).exists()
    assert not Notification.objects.filter(member=member).exists()
    assert _to(member) == []


def test_choices_default_to_on_and_each_change_is_recorded() -> None:
    # given a new member: every kind is on
    member = _member()
    assert notification_preferences(member.pk) == dict.fromkeys(NotificationKind.values, True)

    # when they switch two off, then save the same again
    changed = notification_preferences_save(
        member_id=member.pk, choices={"points_earned": False, "tier_changed": False}
    )
    again = notification_preferences_save(
        member_id=member.pk, choices={"points_earned": False, "tier_changed": False}
    )

    # then two changes recorded once, the others still on
    assert sorted(changed) == ["points_earned", "tier_changed"]
    assert again == []
    assert notification_preferences(member.pk)["points_earned"] is False
    assert notification_preferences(member.pk)["reward_redeemed"] is True
    assert sorted(MemberChange.objects.filter(member=member).values_list("field", "change")) == [
        ("notify_points_earned", "off"),
        ("notify_tier_changed", "off"),
    ]


# --- the unsubscribe token ------------------------------------------------------------


def test_the_unsubscribe_token_names_the_member_and_kind_and_refuses_tampering() -> None:
    # given a member's token for the digest
    member = _member()
    other = _member("other")
    token = unsubscribe_token(member.pk, "points_earned")
    assert unsubscribe_token_read(token) == (member.pk, NotificationKind.POINTS_EARNED)

    # when it is altered to name another member, or cut short
    forged = unsubscribe_token(other.pk, "points_earned").split(":")[0] + ":" + token.split(":")[1]
    for bad in (forged, token[:-2], "nonsense", ""):
        with pytest.raises(InvalidUnsubscribeLink):
            notification_unsubscribe(token=bad)

    # then nobody was switched off; the real token switches off only that kind, once
    assert not NotificationPreference.objects.filter(member__in=[member, other]).exists()
    done = notification_unsubscribe(token=token)
    assert done.changed is True
    assert notification_unsubscribe(token=token).changed is False
    assert notification_preferences(member.pk)["points_earned"] is False
    assert notification_preferences(member.pk)["tier_changed"] is True
    assert MemberChange.objects.get(member=member).channel == "unsubscribe link"


# --- the points-earned digest -----------------------------------------------------------


def test_the_digest_sums_per_partner_across_partners_in_one_email(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a member who earned three times at A and once at B, and one who earned nothing
    member = _member()
    idle = _member("idle")
    for points in (10, 20, 30):
        _earn(member, partner_a, points)
    _earn(member, partner_b, 7)

    # when today's digest runs
    sent = digest.points_digests_send(now=_db_now())

    # then one e-mail, with each partner's sum and the total
    [message] = _to(member)
    assert sent >= 1
    assert message.subject == "You earned 67 points"
    assert f"- {partner_a.name}: 60 points" in message.body
    assert f"- {partner_b.name}: 7 points" in message.body
    assert "In total: 67 points." in message.body
    assert partner_a.name in _html(message)
    assert _to(idle) == []
    assert Notification.objects.get(member=member).kind == NotificationKind.POINTS_EARNED


def test_a_rerun_sends_nothing_twice_and_the_next_day_counts_only_new_earns(
    partner_a: Partner,
) -> None:
    # given a member who earned 100 and got today's digest
    member = _member()
    _earn(member, partner_a, 100)
    today = _db_now()
    digest.points_digests_send(now=today)

    # when the job runs again the same day (a retry: at the day's last instant, so the
    # test also holds when it runs just before midnight), after a new earn
    _earn(member, partner_a, 5)
    digest.points_digests_send(now=today.replace(hour=23, minute=59, second=59, microsecond=999999))

    # then still one e-mail
    assert [message.subject for message in _to(member)] == ["You earned 100 points"]

    # when tomorrow's digest runs
    digest.points_digests_send(now=today + timedelta(days=1))

    # then it has only what was earned after today's digest
    assert [message.subject for message in _to(member)] == [
        "You earned 100 points",
        "You earned 5 points",
    ]


def test_the_digest_respects_the_choice_and_works_in_batches(partner_a: Partner) -> None:
    # given three members who earned; the second switched the digest off
    members = [_member(f"batch{index}") for index in range(3)]
    for member in members:
        _earn(member, partner_a, 3)
    notification_preference_set(member_id=members[1].pk, kind="points_earned", enabled=False)

    # when the digest runs one member per batch
    digest.points_digests_send(now=_db_now(), batch=1)

    # then the first and third got one e-mail each, the second none
    assert [len(_to(member)) for member in members] == [1, 0, 1]


# --- the other senders ------------------------------------------------------------------


def test_a_redemption_emails_the_voucher_once_after_commit(
    partner_a: Partner, partner_b: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given a member with points and a reward of B with a store
    member = _member()
    _earn(member, partner_a, 500)
    code = reward(partner_b, 200, name="Seat upgrade")
    store(partner_b)

    # when they redeem it (the e-mail is queued after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        voucher = member_reward_redeem(
            member_id=member.pk, partner_slug=partner_b.slug, reward_code=code
        )

    # then one e-mail with the code, until when, where to use it and a link
    [message] = _to(member)
    assert message.subject == "Your voucher for Seat upgrade"
    assert voucher.display_code in message.body
    assert "API test shop" in message.body
    assert f"/portal/vouchers/{partner_b.slug}/{voucher.code}/" in message.body
    assert voucher.display_code in _html(message)

    # when the task is retried, then nothing more is sent
    with in_partner(partner_b):
        voucher_id = Voucher.objects.get(code=voucher.code).pk
    assert voucher_notice_send(partner_id=partner_b.pk, voucher_id=voucher_id) is False
    assert len(_to(member)) == 1


def test_a_member_who_switched_vouchers_off_gets_no_voucher_email(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    member = _member()
    _earn(member, partner_a, 500)
    code = reward(partner_a, 100)
    notification_preference_set(member_id=member.pk, kind="reward_redeemed", enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        member_reward_redeem(member_id=member.pk, partner_slug=partner_a.slug, reward_code=code)
    assert _to(member) == []


def test_tier_upgrades_and_downgrades_are_emailed_once(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given two levels and a member
    TierPolicy.objects.create(qualification=QualificationPeriod.ROLLING_12_MONTHS)
    for rank, (name, threshold) in enumerate([("Blue", 0), ("Silver", 1000)]):
        TierLevel.objects.create(
            code=name.lower(), name=name, rank=rank, threshold_points=threshold
        )
    member = _member()
    now = _db_now()

    # when they join at the entry level, then move up
    _earn(member, partner_a, 10)
    with django_capture_on_commit_callbacks(execute=True) as joined:
        tier_evaluate(member_id=member.pk, now=now)
    _earn(member, partner_a, 1000)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        tier_evaluate(member_id=member.pk, now=now)

    # then joining at the entry level is not news (not even a job to find that
    # out: every new member joins it); the upgrade is, once
    assert joined == []
    assert len(queued) == 1
    [message] = _to(member)
    assert message.subject == "Welcome to Silver"
    assert "You moved up from Blue to Silver." in message.body
    upgrade = TierChange.objects.filter(member=member).latest("id")
    assert tier_change_notice_send(change_id=upgrade.pk) is False  # a retry

    # and a downgrade reads as one
    downgrade = TierChange.objects.create(
        member=member,
        from_level=upgrade.to_level,
        to_level=upgrade.from_level,
        reason="test",
        qualifying_points=0,
        changed_at=now,
    )
    assert tier_change_notice_send(change_id=downgrade.pk) is True
    assert _to(member)[-1].subject == "Your tier is now Blue"


def test_expiry_reminders_go_through_the_choices_with_an_unsubscribe_link(
    partner_a: Partner,
) -> None:
    # given two members whose points expire in 10 days; the second switched reminders off
    ExpiryPolicy.objects.all().delete()
    ExpiryPolicy.objects.create(mode="fixed", reminder_days=30)
    now = timezone.now()
    wants, declined = _member("wants"), _member("declined")
    for member in (wants, declined):
        ledger.earn(
            member_id=member.pk,
            partner_id=partner_a.pk,
            points=40,
            expires_at=now + timedelta(days=10),
        )
    notification_preference_set(member_id=declined.pk, kind="points_expiring", enabled=False)

    # when the reminder job runs twice
    expiry.reminders_send(now=now)
    expiry.reminders_send(now=now)

    # then one reminder, to the member who wants them, with the one-click headers
    [message] = _to(wants)
    assert message.subject.startswith("40 points expire on ")
    assert message.extra_headers["List-Unsubscribe-Post"] == ONE_CLICK
    assert _to(declined) == []


def test_the_digest_is_on_the_beat_schedule() -> None:
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "notifications.send_points_digests" in entries
    from loyalty_platform.celery import app

    app.loader.import_default_modules()
    assert "notifications.send_points_digests" in app.tasks
    assert "rewards.send_voucher_notice" in app.tasks
    assert "tiers.send_change_notice" in app.tasks


def test_an_erased_member_is_sent_nothing_and_their_notification_data_goes() -> None:
    # given a member with a choice, a language and an e-mail sent
    member = _member()
    notification_preferences_save(
        member_id=member.pk, choices={"tier_changed": False}, language="es"
    )
    notification_send(
        member_id=member.pk,
        kind="points_expiring",
        key="before",
        context={"points": 1, "expires_on": timezone.now().date()},
    )
    exported = notifications_export(member.pk)
    assert exported["choices"]["tier_changed"] is False
    assert exported["language"] == "es"
    assert [email["kind"] for email in exported["emails"]] == ["points_expiring"]

    # when they are erased
    member_erase(member_id=member.pk)
    mail.outbox.clear()

    # then their choices, language and outbox are gone, and nothing more is sent
    assert not NotificationPreference.objects.filter(member=member).exists()
    assert not MemberLanguage.objects.filter(member=member).exists()
    assert not Notification.objects.filter(member=member, key="before").exists()
    after = notification_send(
        member_id=member.pk,
        kind="points_expiring",
        key="after",
        context={"points": 1, "expires_on": timezone.now().date()},
    )
    assert after is not None
    assert after.status == NotificationStatus.SKIPPED
    assert mail.outbox == []


def test_the_digest_reads_the_journal_and_the_choices_once_per_batch(
    partner_a: Partner,
) -> None:
    # given six members who earned today
    members = [_member(f"reads{index}") for index in range(6)]
    for member in members:
        _earn(member, partner_a, 2)
    now = _db_now()

    # when the digest runs in batches of four members
    with CaptureQueriesContext(connection) as queries:
        digest.points_digests_send(now=now, batch=4)

    # then the journal is read once per batch (two batches, and the empty third),
    # the switched-off members once per batch, and everyone got their e-mail
    statements = [query["sql"] for query in queries.captured_queries]
    window_reads = [sql for sql in statements if "window_earns" in sql]
    choice_reads = [
        sql for sql in statements if "notifications_notificationpreference" in sql and "IN (" in sql
    ]
    assert len(window_reads) == 3
    assert len(choice_reads) == 2
    assert all(len(_to(member)) == 1 for member in members)
