"""The expiry job (coalition.expiry.services) on one database transaction:

- fixed mode: dated lots expire in the order of their dates, only what is left
  of them, into the breakage account, credited by exactly the expired points;
  a second run changes nothing more; undated lots never expire by date;
- inactivity mode: lots carry no date and a member's points expire only after
  ``inactivity_months`` without activity;
- per jurisdiction: members in ``inactivity_only_countries`` get undated lots
  (``lot_expiry_for``) and only inactivity expires them, whatever the mode;
- reminders: one e-mail per member and expiry day, however often the job runs.

Other tests' committed lots may expire in the same runs (then rolled back), so
the breakage account is compared with what the job reports, and each member here
with exactly what their own lots held.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from coalition.adjustments import services as adjustments
from coalition.expiry import services as expiry
from coalition.expiry.models import ExpiryPolicy, ExpiryReminder
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Account, Lot, Transaction
from coalition.ledger.verification import verify
from coalition.members.models import Member
from coalition.members.services import member_enrol
from tenants.partners.models import Partner

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def _policy(**fields: object) -> ExpiryPolicy:
    """The coalition's single policy row, set for this test (rolled back after)."""
    policy = ExpiryPolicy.objects.order_by("id").first() or ExpiryPolicy()
    defaults = {
        "mode": "fixed",
        "months": 24,
        "inactivity_months": 24,
        "reminder_days": 30,
        "inactivity_only_countries": [],
    }
    for name, value in {**defaults, **fields}.items():
        setattr(policy, name, value)
    policy.save()
    assert expiry.expiry_policy().pk == policy.pk
    return policy


def _member(prefix: str, country: str = "") -> Member:
    member = member_enrol(email=f"{prefix}-{uuid.uuid4().hex[:10]}@example.com")
    if country:
        Member.objects.filter(pk=member.pk).update(country=country)
        member.refresh_from_db()
    return member


def _breakage() -> int:
    ledger.coalition_accounts_ensure()
    account = Account.objects.get(kind="breakage")
    return ledger_selectors.account_balance(account.pk)


def _expiries(member_id: int) -> list[tuple[int, str, list[int]]]:
    """(points, reason, lots) of the member's expiry transactions, oldest first."""
    return [
        (tx.points, tx.result["reason"], tx.result["lots"])
        for tx in Transaction.objects.filter(member_id=member_id, kind="expiry").order_by("id")
    ]


def _earn(member: Member, partner: Partner, points: int, expires_at: datetime | None) -> int:
    posting = ledger.earn(
        member_id=member.pk, partner_id=partner.pk, points=points, expires_at=expires_at
    )
    return int(posting.result["lot"])


def test_fixed_mode_expires_lots_in_date_order_into_breakage_once(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: lots expiring in 10 and 20 days, one undated, and 60 of the soonest spent
    _policy(mode="fixed", months=12)
    now = timezone.now()
    member = _member("fixed")
    soonest = _earn(member, partner_a, 100, now + timedelta(days=10))
    later = _earn(member, partner_b, 200, now + timedelta(days=20))
    undated = _earn(member, partner_a, 300, None)
    ledger.burn(member_id=member.pk, partner_id=partner_b.pk, points=60)
    assert Lot.objects.get(pk=soonest).remaining == 40  # spending took the soonest first
    breakage = _breakage()

    # when: the job runs between the two expiry dates
    first = expiry.points_expire(now=now + timedelta(days=15))

    # then: only what was left of the soonest lot expired, into breakage
    assert _expiries(member.pk) == [(40, "expiry date", [soonest])]
    assert ledger_selectors.balance(member.pk) == 200 + 300
    assert first >= 40
    assert _breakage() - breakage == first

    # when: it runs again at the same moment
    transactions = Transaction.objects.count()
    again = expiry.points_expire(now=now + timedelta(days=15))

    # then: nothing more expires
    assert again == 0
    assert Transaction.objects.count() == transactions
    assert _breakage() - breakage == first

    # when: it runs after the second date, far later even
    second = expiry.points_expire(now=now + timedelta(days=3650))

    # then: the second lot expires; the undated lot never does in fixed mode
    assert _expiries(member.pk) == [
        (40, "expiry date", [soonest]),
        (200, "expiry date", [later]),
    ]
    assert [Lot.objects.get(pk=lot).remaining for lot in (soonest, later, undated)] == [0, 0, 300]
    assert ledger_selectors.balance(member.pk) == 300
    assert _breakage() - breakage == first + second
    assert expiry.points_expire(now=now + timedelta(days=3650)) == 0
    report = verify()
    assert report.ok, report.problems


def test_fixed_mode_expires_several_lots_of_one_member_soonest_first(
    db: None, partner_a: Partner
) -> None:
    # given: three lots whose dates have all passed, earned in another order
    _policy(mode="fixed")
    now = timezone.now()
    member = _member("several")
    third = _earn(member, partner_a, 30, now + timedelta(days=3))
    first = _earn(member, partner_a, 10, now + timedelta(days=1))
    second = _earn(member, partner_a, 20, now + timedelta(days=2))

    # when: the job runs after all three dates
    expired = expiry.points_expire(now=now + timedelta(days=4))

    # then: one expiry for the member, listing the lots soonest first, 60 points
    assert _expiries(member.pk) == [(60, "expiry date", [first, second, third])]
    assert expired >= 60
    assert ledger_selectors.balance(member.pk) == 0


def test_lot_expiry_for_follows_the_mode_and_the_jurisdiction(db: None) -> None:
    # given: fixed mode, 12 months, but time-only expiry is not allowed in Germany
    _policy(mode="fixed", months=12, inactivity_only_countries=["de"])
    earned_at = timezone.now()
    french = _member("fr", country="FR")
    german = _member("de", country="DE")
    nowhere = _member("none")

    # when / then: dated lots for France and no country, undated ones in Germany
    assert expiry.lot_expiry_for(french.pk, earned_at) == earned_at + relativedelta(months=12)
    assert expiry.lot_expiry_for(nowhere.pk, earned_at) == earned_at + relativedelta(months=12)
    assert expiry.lot_expiry_for(german.pk, earned_at) is None

    # and in inactivity mode nobody's lots carry a date
    _policy(mode="inactivity")
    assert expiry.lot_expiry_for(french.pk, earned_at) is None
    assert expiry.lot_expiry_for(german.pk, earned_at) is None


def test_inactivity_mode_expires_only_after_months_without_activity(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: inactivity mode, 12 months; a member's undated lots from two partners
    _policy(mode="inactivity", inactivity_months=12)
    now = timezone.now()
    member = _member("inactive")
    for partner, points in ((partner_a, 120), (partner_b, 80)):
        _earn(member, partner, points, expiry.lot_expiry_for(member.pk, now))
    assert not Lot.objects.filter(member_id=member.pk, expires_at__isnull=False).exists()
    breakage = _breakage()

    # when: the job runs 11 months on
    expiry.points_expire(now=now + relativedelta(months=11))

    # then: nothing of the member's expired (the last activity is recent enough)
    assert _expiries(member.pk) == []
    assert ledger_selectors.balance(member.pk) == 200

    # when: it runs 13 months on, twice
    expired = expiry.points_expire(now=now + relativedelta(months=13))
    again = expiry.points_expire(now=now + relativedelta(months=13))

    # then: every remaining point expired once, for inactivity, into breakage
    assert [(points, reason) for points, reason, _ in _expiries(member.pk)] == [(200, "inactivity")]
    assert ledger_selectors.balance(member.pk) == 0
    assert expired >= 200
    assert again == 0
    assert _breakage() - breakage == expired
    report = verify()
    assert report.ok, report.problems


def test_a_partners_credit_adjustment_counts_as_activity(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: inactivity mode, 12 months; a member whose only points are a goodwill
    # credit from A (nothing earned or spent) and a member with nothing at all
    _policy(mode="inactivity", inactivity_months=12)
    now = timezone.now()
    member = _member("goodwill")
    adjustments.adjust_points(
        partner=partner_a,
        member=member,
        points=90,
        reason="parcel delivered late",
        actor="tester",
        idempotency=None,
    )
    assert not Lot.objects.filter(member_id=member.pk, expires_at__isnull=False).exists()

    # when: the job runs 11 months on
    expiry.points_expire(now=now + relativedelta(months=11))

    # then: the credit is recent activity, so nothing expired
    assert _expiries(member.pk) == []
    assert ledger_selectors.balance(member.pk) == 90

    # when: it runs 13 months on, then: the points expire for inactivity
    expiry.points_expire(now=now + relativedelta(months=13))
    assert [(points, reason) for points, reason, _ in _expiries(member.pk)] == [(90, "inactivity")]
    assert ledger_selectors.balance(member.pk) == 0


def test_inactivity_only_jurisdiction_in_fixed_mode(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: fixed mode (12 months) but Germany allows only inactivity expiry (24 months)
    _policy(mode="fixed", months=12, inactivity_months=24, inactivity_only_countries=["DE"])
    now = timezone.now()
    german = _member("de-member", country="de")
    french = _member("fr-member", country="FR")
    for member in (german, french):
        _earn(member, partner_a, 500, expiry.lot_expiry_for(member.pk, now))
        _earn(member, partner_b, 100, expiry.lot_expiry_for(member.pk, now))
    assert not Lot.objects.filter(member_id=german.pk, expires_at__isnull=False).exists()
    assert Lot.objects.filter(member_id=french.pk, expires_at__isnull=True).count() == 0

    # when: the job runs 13 months on
    expiry.points_expire(now=now + relativedelta(months=13))

    # then: the French member's points expired by date; the German member's did not
    assert [(points, reason) for points, reason, _ in _expiries(french.pk)] == [
        (600, "expiry date")
    ]
    assert _expiries(german.pk) == []
    assert ledger_selectors.balance(german.pk) == 600

    # when: it runs 25 months on (24 months without activity)
    expiry.points_expire(now=now + relativedelta(months=25))

    # then: the German member's points expired for inactivity
    assert [(points, reason) for points, reason, _ in _expiries(german.pk)] == [(600, "inactivity")]
    assert ledger_selectors.balance(german.pk) == 0
    assert verify().ok


def test_fixed_mode_members_outside_the_listed_countries_never_expire_by_inactivity(
    db: None, partner_a: Partner
) -> None:
    # given: fixed mode, a member with an undated lot and no country listed
    _policy(mode="fixed", inactivity_months=1, inactivity_only_countries=["DE"])
    now = timezone.now()
    member = _member("undated", country="FR")
    _earn(member, partner_a, 70, None)

    # when: the job runs years later
    expiry.points_expire(now=now + relativedelta(years=5))

    # then: nothing expired (no date, and inactivity does not apply to them)
    assert _expiries(member.pk) == []
    assert ledger_selectors.balance(member.pk) == 70


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_reminders_are_sent_once_per_member_and_expiry_day(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: reminders 30 days ahead; Ann has two lots expiring the same day,
    # Bob one in 20 days, Cy one in 60 days (not due yet), Dee an undated lot
    _policy(mode="fixed", reminder_days=30)
    now = timezone.now()
    day = now + timedelta(days=10)
    ann, bob, cy, dee = (_member(name) for name in ("ann", "bob", "cy", "dee"))
    _earn(ann, partner_a, 100, day)
    _earn(ann, partner_b, 50, day)
    _earn(bob, partner_a, 70, now + timedelta(days=20))
    _earn(cy, partner_a, 40, now + timedelta(days=60))
    _earn(dee, partner_a, 40, None)
    mine = {ann.email, bob.email, cy.email, dee.email}
    mail.outbox.clear()

    # when: the reminder job runs, then runs again
    sent = expiry.reminders_send(now=now)
    ours = [message for message in mail.outbox if message.to[0] in mine]
    again = expiry.reminders_send(now=now)

    # then: Ann and Bob got exactly one e-mail each, with their points and day
    assert sorted(message.to[0] for message in ours) == sorted([ann.email, bob.email])
    by_member = {message.to[0]: message for message in ours}
    assert by_member[ann.email].subject == f"150 points expire on {day:%d %B %Y}"
    assert "70 points" in by_member[bob.email].subject
    assert sent == len(mail.outbox)
    assert again == 0
    assert [message for message in mail.outbox if message.to[0] in mine] == ours
    reminders = ExpiryReminder.objects.filter(member_id__in=[ann.pk, bob.pk, cy.pk, dee.pk])
    assert sorted(reminders.values_list("member_id", "points", "status")) == sorted(
        [(ann.pk, 150, "sent"), (bob.pk, 70, "sent")]
    )

    # when: a day later Cy's lot comes within the window, and the job runs again
    cy_sent = expiry.reminders_send(now=now + timedelta(days=31))

    # then: only Cy is reminded now; Ann and Bob are not reminded again
    assert cy_sent >= 1
    ours = [message.to[0] for message in mail.outbox if message.to[0] in mine]
    assert sorted(ours) == sorted([ann.email, bob.email, cy.email])


@override_settings(EMAIL_BACKEND=LOCMEM)
def test_a_reminder_left_pending_by_a_crashed_run_is_sent_by_the_next(
    db: None, partner_a: Partner
) -> None:
    # given: a reminder row written by a run that crashed before sending it
    _policy(mode="fixed", reminder_days=30)
    now = timezone.now()
    member = _member("crashed")
    day = now + timedelta(days=5)
    _earn(member, partner_a, 90, day)
    ExpiryReminder.objects.create(
        member_id=member.pk, expires_on=day.astimezone(UTC).date(), points=90
    )
    mail.outbox.clear()

    # when: the job runs twice
    expiry.reminders_send(now=now)
    expiry.reminders_send(now=now)

    # then: the member got exactly one reminder
    assert [message.to[0] for message in mail.outbox].count(member.email) == 1
    reminder = ExpiryReminder.objects.get(member_id=member.pk)
    assert reminder.status == "sent"


def test_one_run_of_the_job_expires_everything_due_however_many_members(
    db: None, partner_a: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the ledger expires dated lots, and the job finds inactive members, in
    # batches (here of 2, to keep the test small); 5 members with lots past their
    # date and 5 members in an inactivity-only country who have been inactive
    _policy(mode="fixed", months=12, inactivity_months=12, inactivity_only_countries=["XQ"])
    monkeypatch.setattr(ledger, "lots_expire", partial(ledger.lots_expire, limit=2))
    monkeypatch.setattr(expiry, "inactive_members", partial(expiry.inactive_members, limit=2))
    now = timezone.now()
    dated = [_member(f"dated{index}") for index in range(5)]
    for member in dated:
        _earn(member, partner_a, 10, now + timedelta(days=1))
    sleepers = [_member(f"sleeper{index}", country="XQ") for index in range(5)]
    for member in sleepers:
        _earn(member, partner_a, 20, expiry.lot_expiry_for(member.pk, now))

    # when: the job runs once, after the dates and 13 months without activity
    expiry.points_expire(now=now + relativedelta(months=13))

    # then: every one of them expired, not just the first batch
    assert [ledger_selectors.balance(member.pk) for member in dated + sleepers] == [0] * 10
    assert [len(_expiries(member.pk)) for member in dated + sleepers] == [1] * 10
