"""Closing periods is idempotent and resumable, refuses to value events without
terms, and the open period's live position and the liability report read the
ledger as it is."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Account, AccountKind
from coalition.settlement import services as settlement
from coalition.settlement.models import (
    LineKind,
    PeriodStatus,
    SettlementPeriod,
    Statement,
)
from tenants.partners.models import Partner
from tests.testkit.settlement import (
    AFTER_EXPIRY,
    EARNED_AT,
    EXPIRES_AT,
    close_everything_before,
    close_now,
    known_terms,
    lines_of,
    month_end,
    new_member,
    onboard_partner,
    statement_of,
)


def _issued_points(period: SettlementPeriod, partner: Partner) -> int:
    statement = Statement.objects.filter(period=period, partner=partner).first()
    if statement is None:
        return 0
    return sum(line.points for line in statement.lines.filter(kind=LineKind.ISSUED))


def test_closing_a_closed_period_returns_it_unchanged(db: None, partner_a: Partner) -> None:
    # given a closed period with a statement
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8", fee_fixed=100)
    close_everything_before()
    ledger.earn(member_id=new_member(), partner_id=partner_a.pk, points=250)
    period = close_now()
    snapshot = (
        period.status, period.start_watermark, period.end_watermark, period.closed_at,
        period.coalition_margin, lines_of(statement_of(period, partner_a)),
    )  # fmt: skip
    periods = SettlementPeriod.objects.count()
    statements = Statement.objects.count()

    # when it is closed again (passed explicitly, and as a stale copy)
    ledger.earn(member_id=new_member(), partner_id=partner_a.pk, points=5)
    again = settlement.period_close(period=period)
    stale = SettlementPeriod.objects.get(pk=period.pk)
    stale.status = PeriodStatus.CLOSING  # what a worker that read it earlier holds
    twice = settlement.period_close(period=stale)

    # then nothing changes: same row, same statement, no new period or statement
    for result in (again, twice):
        assert result.pk == period.pk
        result.refresh_from_db()
        assert (
            result.status, result.start_watermark, result.end_watermark, result.closed_at,
            result.coalition_margin, lines_of(statement_of(result, partner_a)),
        ) == snapshot  # fmt: skip
    assert SettlementPeriod.objects.count() == periods
    assert Statement.objects.count() == statements
    # the later earn stays in the open period
    assert settlement.period_open().start_watermark == period.end_watermark


def test_a_period_left_closing_is_completed_at_its_watermark(db: None, partner_a: Partner) -> None:
    # given earns, then a close that fixed its watermark and died (status closing)
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    member = new_member()
    first = ledger.earn(member_id=member, partner_id=partner_a.pk, points=100)
    crashed = settlement.period_open()
    SettlementPeriod.objects.filter(pk=crashed.pk).update(
        end_watermark=first.transaction_id, status=PeriodStatus.CLOSING
    )
    # and an earn posted after that watermark
    second = ledger.earn(member_id=member, partner_id=partner_a.pk, points=50)

    # when the next close runs (the scheduled job, with no period given)
    assert settlement.periods_close_due() != []
    completed = SettlementPeriod.objects.get(pk=crashed.pk)

    # then it completes that period at the watermark it had fixed
    assert completed.status == PeriodStatus.CLOSED
    assert completed.end_watermark == first.transaction_id
    assert _issued_points(completed, partner_a) == 100
    # and the later earn goes to the next period, which starts at that watermark
    following = settlement.period_open()
    assert following.number == completed.number + 1
    assert following.start_watermark == first.transaction_id
    closed = close_now()
    assert closed.pk == following.pk
    assert closed.end_watermark is not None
    assert closed.end_watermark >= second.transaction_id
    assert _issued_points(closed, partner_a) == 50


def test_terms_missing_stops_the_close_and_nothing_is_closed(db: None) -> None:
    # given a partner without settlement terms that issued points
    close_everything_before()
    newcomer = onboard_partner("noterms", "EUR")
    earned = ledger.earn(member_id=new_member(), partner_id=newcomer.pk, points=70)
    period = settlement.period_open()

    # when the period is closed
    with pytest.raises(settlement.TermsMissing) as refused:
        close_now()

    # then the error names the partner, and the period is not closed: no statement,
    # no obligation, no next period
    assert str(newcomer.pk) in refused.value.message
    period.refresh_from_db()
    assert period.status != PeriodStatus.CLOSED
    assert period.closed_at is None
    assert not period.statements.exists()
    assert not period.obligations.exists()
    assert not SettlementPeriod.objects.filter(number__gt=period.number).exists()

    # and once terms from before the event exist, closing again completes it
    known_terms(newcomer, issuance_price="2.0", reimbursement_rate="1.0")
    closed = close_now()
    assert closed.pk == period.pk
    assert closed.status == PeriodStatus.CLOSED
    assert closed.end_watermark is not None
    assert closed.end_watermark >= earned.transaction_id
    assert lines_of(statement_of(closed, newcomer)) == [(LineKind.ISSUED, 70, 140)]


def test_live_position_shows_the_open_period(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given terms and a closed past
    known_terms(partner_a, issuance_price="1.5", reimbursement_rate="0.8", fee_percent="10")
    known_terms(partner_b, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    quiet = onboard_partner("quiet", "USD")
    assert settlement.live_position(partner_a).lines == []

    # when points are earned at A and spent at B in the open period
    member = new_member()
    ledger.earn(member_id=member, partner_id=partner_a.pk, points=400)
    ledger.burn(member_id=member, partner_id=partner_b.pk, points=300)

    # then A's live position: issued 400 x 1.5 = 600, fee 10% = 60 -> owes 660
    position_a = settlement.live_position(partner_a)
    assert sorted((line.kind, line.points, line.amount) for line in position_a.lines) == sorted(
        [(LineKind.ISSUED, 400, 600), (LineKind.FEE_PERCENT, 0, 60)]
    )
    assert (position_a.net, position_a.currency) == (660, "EUR")
    # B's: redeemed 300 x 0.5 = 150 -> is owed 150
    position_b = settlement.live_position(partner_b)
    assert [(line.kind, line.points, line.amount) for line in position_b.lines] == [
        (LineKind.REDEEMED, 300, -150)
    ]
    assert position_b.net == -150
    # a partner without events has an empty position in its own currency
    empty = settlement.live_position(quiet)
    assert (empty.lines, empty.net, empty.currency) == ([], 0, "USD")
    # after the close, the events have moved into the closed period
    closed = close_now()
    assert statement_of(closed, partner_a).net_amount == 660
    assert settlement.live_position(partner_a).lines == []


def test_liability_report(db: None, partner_a: Partner) -> None:
    # given an issuer L with terms at 1.5, and the report before anything happens
    issuer = onboard_partner("liable", "EUR")
    known_terms(issuer, issuance_price="1.5", reimbursement_rate="1.0")
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="1.0")
    before = settlement.liability_report()
    assert issuer.pk not in {line.issuer_id for line in before.lines}
    member = new_member()

    # when 200 of L's points expire, 1000 more are earned, 300 are spent at A, a
    # 100-point hold is voided and an 80-point hold is captured for 60
    ledger.earn(
        member_id=member, partner_id=issuer.pk, points=200, expires_at=EXPIRES_AT, now=EARNED_AT
    )
    assert ledger.lots_expire(now=AFTER_EXPIRY) == 200
    ledger.earn(member_id=member, partner_id=issuer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=partner_a.pk, points=300)
    voided = ledger.hold_authorize(member_id=member, partner_id=partner_a.pk, points=100)
    ledger.hold_void(hold_id=int(voided.result["hold"]))
    captured = ledger.hold_authorize(member_id=member, partner_id=partner_a.pk, points=80)
    ledger.hold_capture(hold_id=int(captured.result["hold"]), points=60)
    # and L's price changes from now on
    known_terms(issuer, issuance_price="2.0", reimbursement_rate="1.0",
                effective_from=timezone.now())  # fmt: skip
    report = settlement.liability_report()

    # then L has 1000 - 300 - 60 = 640 points outstanding, valued at today's 2.0
    line = next(line for line in report.lines if line.issuer_id == issuer.pk)
    assert (line.outstanding_points, line.currency, line.value) == (640, "EUR", 1280)
    # (and at 1.5 before the price change)
    earlier = settlement.liability_report(now=timezone.now() - timedelta(hours=1))
    assert next(x for x in earlier.lines if x.issuer_id == issuer.pk).value == 960
    assert report.outstanding_points == before.outstanding_points + 640
    # 200 expired; 300 burned + 60 captured redeemed (the voided hold is not)
    assert report.expired_points == before.expired_points + 200
    assert report.redeemed_points == before.redeemed_points + 360
    expected_rate = Decimal(report.expired_points) / Decimal(
        report.expired_points + report.redeemed_points
    )
    assert report.breakage_rate == expected_rate.quantize(Decimal("0.0001"))
    assert Decimal(0) < report.breakage_rate < Decimal(1)


def test_a_partner_settles_in_one_currency(db: None) -> None:
    # given a partner whose terms are in EUR
    partner = onboard_partner("onecurrency", "EUR")
    settlement.terms_set(
        partner=partner, effective_from=timezone.now() - timedelta(days=1),
        issuance_price=Decimal("1.0"), reimbursement_rate=Decimal("0.5"),
    )  # fmt: skip
    # when new terms would switch it to GBP, they are refused
    with pytest.raises(settlement.InvalidTerms) as refused:
        settlement.terms_set(
            partner=partner, effective_from=timezone.now() + timedelta(days=1),
            issuance_price=Decimal("1.0"), reimbursement_rate=Decimal("0.5"), currency="GBP",
        )  # fmt: skip
    assert refused.value.field == "currency"

    # and terms written around the service that mix currencies in one period (events
    # valued in EUR, the fixed fee of this month, billed when it ends, in GBP) stop
    # the close, instead of adding euros and pounds on one statement
    close_everything_before()
    ledger.earn(member_id=new_member(), partner_id=partner.pk, points=100)
    known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5", fee_fixed=10,
                currency="GBP", effective_from=timezone.now())  # fmt: skip
    period = settlement.period_open()
    with pytest.raises(settlement.MixedCurrencies):
        close_now(now=month_end())
    period.refresh_from_db()
    assert period.status != PeriodStatus.CLOSED
    assert not period.statements.exists()


def test_liability_shows_points_in_pending_holds_and_agrees_with_the_ledger(
    db: None, partner_a: Partner
) -> None:
    # given an issuer and the report before anything happens
    issuer = onboard_partner("holding", "EUR")
    known_terms(issuer, issuance_price="1.0", reimbursement_rate="1.0")
    before = settlement.liability_report()
    member = new_member()
    ledger.earn(member_id=member, partner_id=issuer.pk, points=1000)

    # when 250 points are held and stay pending, 100 held and captured, 50 held and voided
    ledger.hold_authorize(member_id=member, partner_id=partner_a.pk, points=250)
    captured = ledger.hold_authorize(member_id=member, partner_id=partner_a.pk, points=100)
    ledger.hold_capture(hold_id=int(captured.result["hold"]), points=100)
    voided = ledger.hold_authorize(member_id=member, partner_id=partner_a.pk, points=50)
    ledger.hold_void(hold_id=int(voided.result["hold"]))
    report = settlement.liability_report()

    # then the pending 250 are their own figure: not outstanding, not redeemed
    line = next(line for line in report.lines if line.issuer_id == issuer.pk)
    assert (line.outstanding_points, line.held_points, line.value) == (650, 250, 650)
    assert report.held_points == before.held_points + 250
    assert report.outstanding_points == before.outstanding_points + 650
    assert report.redeemed_points == before.redeemed_points + 100
    # and they are what the ledger's holds account holds, for every issuer
    holds_account = Account.objects.get(kind=AccountKind.HOLDS)
    assert report.held_points == ledger_selectors.account_balance(holds_account.pk)
    # and the issuer's own share says the same
    share = settlement.issuer_liability(partner_id=issuer.pk)
    assert (share.outstanding_points, share.held_points) == (650, 250)
