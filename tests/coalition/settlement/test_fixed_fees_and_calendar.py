"""Fixed fees follow the settlement calendar, and periods close when it says so.

A partner's fixed fee is billed once per calendar month (UTC), by the first close
after the month ends, however often periods close; a close before the period is
due is refused unless forced with a reason, which the period records; and the
live position shows the fixed fee the open period will carry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from coalition.ledger import services as ledger
from coalition.settlement import services as settlement
from coalition.settlement.models import (
    FixedFeeCharge,
    LineKind,
    PeriodStatus,
    SettlementPeriod,
    StatementLine,
)
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    month_end,
    new_member,
    onboard_partner,
    statement_of,
)


def _fixed_fee_lines(partner_id: int) -> list[tuple[int, str]]:
    rows = StatementLine.objects.filter(
        statement__partner_id=partner_id, kind=LineKind.FEE_FIXED
    ).order_by("id")
    return [(line.amount, line.description) for line in rows]


@override_settings(LOYALTY_SETTLEMENT_FREQUENCY="daily")
def test_a_monthly_fee_is_billed_once_whatever_the_closing_frequency(db: None) -> None:
    # given a partner with a fixed fee of 300 a month, and daily periods
    partner = onboard_partner("monthlyfee", "EUR")
    known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5", fee_fixed=300,
                effective_from=month_end(months=0))  # fmt: skip
    close_everything_before()
    member = new_member()

    # when an operator (or a retrying script) forces ten closes during the month
    for _ in range(10):
        ledger.earn(member_id=member, partner_id=partner.pk, points=10)
        close_now()
    # and the periods close on time after the month ends, the next day, and a
    # month later
    closes_after = [month_end(), month_end() + timedelta(days=1), month_end(months=2)]
    for now in closes_after:
        settlement.period_close(now=now)

    # then the month's fee was billed once, by the first close after its end, and
    # the next month's once, by the close after that month's end
    this_month, next_month = month_end(months=0).date(), month_end().date()
    assert _fixed_fee_lines(partner.pk) == [
        (300, f"fixed fee for {this_month:%B %Y}"),
        (300, f"fixed fee for {next_month:%B %Y}"),
    ]
    charged = FixedFeeCharge.objects.filter(partner=partner).order_by("month")
    assert [charge.month for charge in charged] == [this_month, next_month]
    assert charged[0].line.statement.period.closed_at == closes_after[0]


def test_a_close_before_the_period_is_due_needs_force_and_a_reason(db: None) -> None:
    # given an open period that opened now (monthly: due when the month ends)
    close_everything_before()
    period = settlement.period_open()
    due_at = settlement.period_due_at(period)
    assert due_at == month_end(period.opened_at)

    # when it is closed now without force, then it is refused and stays open
    with pytest.raises(settlement.PeriodNotDue) as refused:
        settlement.period_close()
    assert refused.value.code == "period_not_due"
    # and forced without a reason, it is refused too
    with pytest.raises(settlement.CloseReasonMissing):
        settlement.period_close(force=True, reason="  ")
    period.refresh_from_db()
    assert (period.status, period.end_watermark) == (PeriodStatus.OPEN, None)
    assert not SettlementPeriod.objects.filter(number__gt=period.number).exists()

    # when it is forced with a reason, then it closes and records both
    closed = settlement.period_close(force=True, reason="partner leaves the coalition")
    assert closed.pk == period.pk
    assert (closed.status, closed.closed_early, closed.close_reason) == (
        PeriodStatus.CLOSED, True, "partner leaves the coalition",
    )  # fmt: skip

    # and the next period, once due, closes without force and is not early
    following = settlement.period_open()
    on_time = settlement.period_close(now=settlement.period_due_at(following))
    assert on_time.pk == following.pk
    assert (on_time.status, on_time.closed_early, on_time.close_reason) == (
        PeriodStatus.CLOSED, False, "",
    )  # fmt: skip


def test_the_scheduled_job_closes_only_due_periods(db: None) -> None:
    # given an open period that opened now
    close_everything_before()
    period = settlement.period_open()

    # when the job runs before the period is due, then nothing closes
    assert settlement.periods_close_due(now=timezone.now()) == []
    # and when it runs at the due time, the period closes, not early
    (closed,) = settlement.periods_close_due(now=settlement.period_due_at(period))
    assert (closed.pk, closed.status, closed.closed_early) == (
        period.pk, PeriodStatus.CLOSED, False,
    )  # fmt: skip


def test_the_live_position_includes_the_fixed_fee_the_period_will_carry(db: None) -> None:
    # given a partner with a monthly fee of 250 and an open monthly period
    partner = onboard_partner("livefee", "EUR")
    known_terms(partner, issuance_price="2.0", reimbursement_rate="1.0", fee_fixed=250,
                effective_from=month_end(months=0))  # fmt: skip
    close_everything_before()
    ledger.earn(member_id=new_member(), partner_id=partner.pk, points=100)
    period = settlement.period_open()

    # when the partner reads its live position
    position = settlement.live_position(partner)

    # then it shows the issued points and this month's fee, billed at the close
    lines = sorted((line.kind, line.points, line.amount) for line in position.lines)
    assert lines == [(LineKind.FEE_FIXED, 0, 250), (LineKind.ISSUED, 100, 200)]
    assert position.net == 450
    # and the period closed on time carries exactly that
    closed = settlement.period_close(now=settlement.period_due_at(period))
    assert statement_of(closed, partner).net_amount == position.net
