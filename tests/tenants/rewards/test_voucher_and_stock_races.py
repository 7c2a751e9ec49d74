"""Redeeming under real concurrency (committed data, one connection per thread):

- one voucher consumed from 8 tills at once is consumed exactly once, the other
  seven are told (typed) that it was already used;
- 16 members racing for the last 3 rewards: exactly 3 get one, 13 are told it is
  out of stock, stock ends at 0, the ledger holds exactly 3 burns and the
  coalition catalogue shows the reward as out of stock.
"""

from __future__ import annotations

import threading
import uuid

from django_tenants.utils import tenant_context

from coalition.catalogue.models import CatalogueEntry
from coalition.catalogue.selectors import catalogue_page
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Transaction
from coalition.ledger.verification import verify
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import Reward, Voucher, VoucherStatus
from tests.testkit import assert_on_test_database, in_partner
from tests.testkit.concurrency import books_report, run_threads, unique_member

TILLS = 8
RACERS = 16
LAST_ONES = 3


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` tests alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_one_voucher_consumed_from_eight_tills_at_once_is_consumed_once(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given: a member who earned at A and redeemed a reward at B (its only unit)
    member = unique_member("voucher-race")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=500)
    code = f"race-{uuid.uuid4().hex[:12]}"
    with in_partner(partner_b):
        rewards.reward_save(code=code, name=f"Seat upgrade {code}", points_price=300, stock=1)
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code=code)
    barrier = threading.Barrier(TILLS)

    # when: eight tills consume the same voucher at the same moment
    def consume(_: int) -> Voucher:
        with tenant_context(partner_b):
            return rewards.voucher_consume(code=voucher.code)

    outcomes = run_threads(TILLS, consume, barrier=barrier)

    # then: exactly one succeeded, the seven others got the typed "already used"
    succeeded = [outcome for outcome in outcomes if outcome.error is None]
    refused = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert len(succeeded) == 1, [repr(error) for error in refused]
    assert len(refused) == TILLS - 1
    assert all(isinstance(error, rewards.VoucherAlreadyUsed) for error in refused), refused
    with in_partner(partner_b):
        stored = Voucher.objects.get(code=voucher.code)
        assert stored.status == VoucherStatus.CONSUMED
        assert stored.consumed_at == succeeded[0].value.consumed_at
    # consuming burns nothing more: the member paid the reward's price once
    assert ledger_selectors.balance(member.pk) == 200
    assert Transaction.objects.filter(member_id=member.pk, kind="burn").count() == 1


def test_sixteen_members_racing_for_the_last_three_rewards(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given: 16 members with points earned at A, and a reward at B with 3 left
    members = [unique_member("stock-race") for _ in range(RACERS)]
    for member in members:
        ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=500)
    code = f"last-{uuid.uuid4().hex[:12]}"
    with in_partner(partner_b):
        reward = rewards.reward_save(
            code=code, name=f"Lounge {code}", points_price=300, stock=LAST_ONES
        )
        assert [entry.code for entry in catalogue_page(search=code).entries] == [code]
    barrier = threading.Barrier(RACERS)

    # when: all 16 redeem at the same moment
    def redeem(index: int) -> Voucher:
        with tenant_context(partner_b):
            return rewards.reward_redeem(member_id=members[index].pk, reward_code=code)

    outcomes = run_threads(RACERS, redeem, barrier=barrier)

    # then: exactly 3 vouchers, 13 typed out-of-stock refusals, nothing else
    winners = [outcome for outcome in outcomes if outcome.error is None]
    losers = [outcome for outcome in outcomes if outcome.error is not None]
    assert len(winners) == LAST_ONES, [repr(outcome.error) for outcome in losers]
    assert len(losers) == RACERS - LAST_ONES
    assert all(isinstance(outcome.error, rewards.RewardOutOfStock) for outcome in losers), [
        repr(outcome.error) for outcome in losers
    ]
    with in_partner(partner_b):
        assert Reward.objects.get(pk=reward.pk).stock == 0
        assert Voucher.objects.filter(reward_id=reward.pk).count() == LAST_ONES
    # exactly 3 burns at B, by the winners, each for the reward's price
    burns = Transaction.objects.filter(kind="burn", partner_id=partner_b.pk, memo=f"reward {code}")
    assert burns.count() == LAST_ONES
    winner_ids = {members[outcome.index].pk for outcome in winners}
    assert set(burns.values_list("member_id", flat=True)) == winner_ids
    assert set(burns.values_list("points", flat=True)) == {300}
    for index, member in enumerate(members):
        expected = 200 if member.pk in winner_ids else 500
        assert ledger_selectors.balance(member.pk) == expected, index
    # the coalition catalogue shows it out of stock and no longer offers it
    entry = CatalogueEntry.objects.get(partner_id=partner_b.pk, reward_id=reward.pk)
    assert entry.in_stock is False
    assert catalogue_page(search=code).entries == []
    report = books_report()
    assert report.unbalanced_transactions == []
    assert report.negative_wallets == 0
    assert report.wallets_off_entries == []
    assert report.wallets_off_lots == []
    assert verify().ok


def test_a_voucher_cancelled_and_consumed_at_once_is_either_used_or_refunded(
    live_db: None, partner_a: Partner, partner_b: Partner
) -> None:
    assert_on_test_database()
    # given: a redeemed voucher (one of two units)
    member = unique_member("cancel-race")
    ledger.earn(member_id=member.pk, partner_id=partner_a.pk, points=500)
    code = f"both-{uuid.uuid4().hex[:12]}"
    with in_partner(partner_b):
        reward = rewards.reward_save(code=code, name=f"Spa {code}", points_price=300, stock=2)
        voucher = rewards.reward_redeem(member_id=member.pk, reward_code=code)
    barrier = threading.Barrier(TILLS)

    # when: four tills consume it while four support agents cancel it, all at once
    def consume_or_cancel(index: int) -> Voucher:
        with tenant_context(partner_b):
            if index % 2:
                return rewards.voucher_cancel(code=voucher.code)
            return rewards.voucher_consume(code=voucher.code)

    try:
        outcomes = run_threads(TILLS, consume_or_cancel, barrier=barrier)

        # then: exactly one of the eight won; the others were told why not (typed)
        won = [outcome for outcome in outcomes if outcome.error is None]
        lost = [outcome.error for outcome in outcomes if outcome.error is not None]
        assert len(won) == 1, [repr(error) for error in lost]
        assert all(
            isinstance(error, rewards.VoucherAlreadyUsed | rewards.VoucherCancelled)
            for error in lost
        ), lost
        with in_partner(partner_b):
            stored = Voucher.objects.get(pk=voucher.pk)
            stock = Reward.objects.get(pk=reward.pk).stock
        if won[0].index % 2:  # the cancel won: points and the unit came back
            assert stored.status == VoucherStatus.CANCELLED
            assert (stock, ledger_selectors.balance(member.pk)) == (2, 500)
        else:  # the till won: the reward stays paid for
            assert stored.status == VoucherStatus.CONSUMED
            assert (stock, ledger_selectors.balance(member.pk)) == (1, 200)
        reversals = Transaction.objects.filter(reverses_id=voucher.burn_transaction_id)
        assert reversals.count() == (1 if stored.status == VoucherStatus.CANCELLED else 0)
        assert verify().ok
    finally:
        # a committed reward in stock would show in other tests' catalogue pages
        with in_partner(partner_b):
            rewards.reward_save(
                code=code, name=f"Spa {code}", points_price=300, stock=0, is_active=False
            )
