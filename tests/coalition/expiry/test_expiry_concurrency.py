"""The expiry and reminder jobs run from several workers at once (committed data,
one connection per thread): every expired lot goes to breakage exactly once and
every reminder is e-mailed exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.core import mail
from django.test import override_settings
from django.utils import timezone

from coalition.expiry import services as expiry
from coalition.expiry.models import ExpiryReminder
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Account, Lot, Transaction
from coalition.ledger.verification import verify
from tenants.partners.models import Partner
from tests.testkit import assert_on_test_database
from tests.testkit.concurrency import books_report, run_threads, unique_member

WORKERS = 4


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def _on_the_test_database_with_the_default_policy() -> None:
    assert_on_test_database()
    # These tests run the real jobs on committed data: only with date expiry and no
    # inactivity rule, so that nobody else's points are touched.
    policy = expiry.expiry_policy()
    assert policy.mode == "fixed", "a committed inactivity policy would expire everyone"
    assert not policy.inactivity_only_countries


def _breakage() -> int:
    ledger.coalition_accounts_ensure()
    return ledger_selectors.account_balance(Account.objects.get(kind="breakage").pk)


def test_expiry_job_run_by_four_workers_at_once_expires_each_lot_once(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    _on_the_test_database_with_the_default_policy()
    # given: five members, each with two lots past their date and one far from it
    now = timezone.now()
    members = [unique_member("expiry-race") for _ in range(5)]
    expired_lots: dict[int, list[int]] = {}
    for member in members:
        expired_lots[member.pk] = [
            ledger.earn(
                member_id=member.pk,
                partner_id=partner,
                points=points,
                expires_at=now - age,
                now=now - timedelta(days=2),  # earned before it expired
            ).result["lot"]
            for partner, points, age in (
                (partner_a.pk, 100, timedelta(days=1)),
                (partner_b.pk, 50, timedelta(hours=2)),
            )
        ]
        ledger.earn(
            member_id=member.pk,
            partner_id=partner_a.pk,
            points=300,
            expires_at=now + timedelta(days=400),
        )
    breakage = _breakage()
    barrier = threading.Barrier(WORKERS)

    # when: four workers run the expiry job at the same moment
    outcomes = run_threads(WORKERS, lambda _: expiry.points_expire(now=now), barrier=barrier)

    # then: no worker failed, each member lost exactly the 150 expired points once
    assert [outcome.error for outcome in outcomes] == [None] * WORKERS
    for member in members:
        expiries = Transaction.objects.filter(member_id=member.pk, kind="expiry")
        assert list(expiries.values_list("points", flat=True)) == [150], member.pk
        assert sorted(expiries.get().result["lots"]) == sorted(expired_lots[member.pk])
        assert ledger_selectors.balance(member.pk) == 300
        assert not Lot.objects.filter(pk__in=expired_lots[member.pk], remaining__gt=0).exists()
    # and breakage grew by exactly what the workers together report expiring
    total = sum(int(outcome.value) for outcome in outcomes)
    assert total >= 5 * 150
    assert _breakage() - breakage == total
    # a further run finds nothing of theirs to expire
    expiry.points_expire(now=now)
    assert (
        Transaction.objects.filter(member_id__in=[m.pk for m in members], kind="expiry").count()
        == 5
    )
    report = books_report()
    assert report.unbalanced_transactions == []
    assert report.wallets_off_entries == []
    assert report.wallets_off_lots == []
    assert verify().ok


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_reminder_job_run_by_several_workers_at_once_mails_each_member_once(
    live_db: None, partner_a: Partner
) -> None:
    _on_the_test_database_with_the_default_policy()
    # given: four members whose points expire within the reminder window (two days)
    now = timezone.now()
    members = [unique_member("reminder-race") for _ in range(4)]
    for index, member in enumerate(members):
        for points in (40, 60):
            ledger.earn(
                member_id=member.pk,
                partner_id=partner_a.pk,
                points=points,
                expires_at=now + timedelta(days=7 + index % 2),
            )
    mail.outbox.clear()
    barrier = threading.Barrier(WORKERS)

    # when: the reminder job runs in four workers at once, then once more
    outcomes = run_threads(WORKERS, lambda _: expiry.reminders_send(now=now), barrier=barrier)
    again = expiry.reminders_send(now=now)

    # then: each member got exactly one e-mail, for 100 points; nobody got two
    assert [outcome.error for outcome in outcomes] == [None] * WORKERS
    recipients = [message.to[0] for message in mail.outbox]
    for member in members:
        assert recipients.count(member.email) == 1, member.email
        mine = next(message for message in mail.outbox if message.to[0] == member.email)
        assert mine.subject.startswith("100 points expire on ")
    assert len(recipients) == len(set(recipients))
    assert sum(int(outcome.value) for outcome in outcomes) == len(mail.outbox)
    assert again == 0
    rows = ExpiryReminder.objects.filter(member_id__in=[member.pk for member in members])
    assert sorted(rows.values_list("status", "points")) == [("sent", 100)] * len(members)
