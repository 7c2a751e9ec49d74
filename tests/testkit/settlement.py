"""Helpers for the settlement tests (import as ``tests.testkit.settlement``).

Settlement periods are global (public schema) and the test database keeps the
committed events of ``live_db`` tests, so every close also sweeps up events of
other tests. Two rules keep that harmless:

- ``cover_every_partner_with_terms`` gives every partner without old terms a
  neutral set (no fees, no breakage share), so those events never stop a close
  with ``TermsMissing``;
- ``known_terms`` writes a test's terms directly: ``terms_set`` refuses terms
  that take effect before the latest committed close, and events posted in a
  ``db`` test carry the test transaction's start time, so a test's terms must
  take effect before it (one day back).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from coalition.members.services import member_enrol
from coalition.settlement.models import (
    BilateralObligation,
    NettedTransfer,
    SettlementPeriod,
    SettlementTerms,
    Statement,
)
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tenants.partners.services import partner_onboard

NEUTRAL_FROM = datetime(2000, 1, 1, tzinfo=UTC)
# Lots that the tests let expire carry this expiry, and ``lots_expire`` runs with
# ``AFTER_EXPIRY``: no other test's lot is that old, so only the test's own expire.
# They are earned with ``now=EARNED_AT``: an earn refuses an expiry already past.
EXPIRES_AT = datetime(2001, 1, 1, tzinfo=UTC)
EARNED_AT = EXPIRES_AT - timedelta(days=30)
AFTER_EXPIRY = EXPIRES_AT + timedelta(seconds=1)
WEBHOOK_SECRET = "whsec_settlement_tests"
API_KEY = "sk_test_settlement"

Line = tuple[str, int, int]  # (kind, points, amount)


def cover_every_partner_with_terms() -> None:
    """Neutral terms from 2000 for every partner that has none that old."""
    covered = SettlementTerms.objects.filter(effective_from__lte=NEUTRAL_FROM).values("partner_id")
    SettlementTerms.objects.bulk_create(
        SettlementTerms(
            partner=partner,
            effective_from=NEUTRAL_FROM,
            currency=partner.default_currency,
            issuance_price=Decimal(1),
            reimbursement_rate=Decimal(1),
        )
        for partner in Partner.objects.exclude(pk__in=covered)
    )


# Tests close periods when they need to, not when the calendar says: forced.
FORCED = "test: closed when the test needs it"


def close_now(**options: Any) -> SettlementPeriod:
    """Close the open period now, due or not (a forced close with a reason)."""
    from coalition.settlement.services import period_close

    return period_close(force=True, reason=FORCED, **options)


def month_end(at: datetime | None = None, *, months: int = 1) -> datetime:
    """The first instant (UTC) of the ``months``-th month after ``at``'s (now's): a
    close at ``month_end()`` bills this month's fixed fees."""
    at = (at or timezone.now()).astimezone(UTC)
    index = at.year * 12 + at.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def close_everything_before() -> SettlementPeriod:
    """Close the open period with whatever other tests left in it."""
    cover_every_partner_with_terms()
    return close_now()


def known_terms(
    partner: Partner,
    *,
    issuance_price: str,
    reimbursement_rate: str,
    fee_percent: str = "0",
    fee_fixed: int = 0,
    breakage_share_percent: str = "0",
    effective_from: datetime | None = None,
    currency: str | None = None,
) -> SettlementTerms:
    return SettlementTerms.objects.create(
        partner=partner,
        effective_from=effective_from or timezone.now() - timedelta(days=1),
        currency=currency or partner.default_currency,
        issuance_price=Decimal(issuance_price),
        reimbursement_rate=Decimal(reimbursement_rate),
        fee_percent=Decimal(fee_percent),
        fee_fixed=fee_fixed,
        breakage_share_percent=Decimal(breakage_share_percent),
    )


def onboard_partner(prefix: str, currency: str) -> Partner:
    """A new active partner with a unique slug (its own tenant schema)."""
    partner = partner_onboard(
        name=f"{prefix.title()} {uuid.uuid4().hex[:6]}",
        slug=f"{prefix}-{uuid.uuid4().hex[:10]}",
        default_currency=currency,
        activate=True,
    )
    connection.set_schema_to_public()
    return partner


def new_member(prefix: str = "settle") -> int:
    return member_enrol(email=f"{prefix}-{uuid.uuid4().hex}@example.com").pk


def statement_of(period: SettlementPeriod, partner: Partner) -> Statement:
    return Statement.objects.get(period=period, partner=partner)


def lines_of(statement: Statement) -> list[Line]:
    """The statement's lines as (kind, points, amount), sorted."""
    return sorted(
        (line.kind, line.points, line.amount) for line in statement.lines.all().order_by("id")
    )


def transaction_ids_in(period: SettlementPeriod) -> range:
    assert period.end_watermark is not None
    return range(period.start_watermark + 1, period.end_watermark + 1)


Positions = dict[tuple[str, int], int]


def positions_owed(rows: Iterable[tuple[str, int, int, int]]) -> Positions:
    """(currency, partner) -> what it is owed minus what it owes, from
    (currency, debtor, creditor, amount) obligations."""
    positions: defaultdict[tuple[str, int], int] = defaultdict(int)
    for currency, debtor, creditor, amount in rows:
        positions[(currency, debtor)] -= amount
        positions[(currency, creditor)] += amount
    return {key: value for key, value in positions.items() if value}


def positions_paid(rows: Iterable[tuple[str, int, int, int]]) -> Positions:
    """(currency, partner) -> what it receives minus what it pays, from
    (currency, payer, payee, amount) transfers."""
    return positions_owed(rows)  # same arithmetic: the payer gives, the payee gets


def assert_netting_settles(
    obligations: list[tuple[str, int, int, int]], transfers: list[tuple[str, int, int, int]]
) -> None:
    """The property, on (currency, debtor, creditor, amount) obligations and
    (currency, payer, payee, amount) transfers."""
    owed = positions_owed(obligations)
    # for each partner and currency: received - paid == owed to it - owed by it
    assert positions_paid(transfers) == owed
    for currency in {row[0] for row in obligations} | {row[0] for row in transfers}:
        in_currency = [t for t in transfers if t[0] == currency]
        nonzero = sum(1 for (c, _), value in owed.items() if c == currency and value)
        # at most n - 1 payments for n partners with a position (none if all are even)
        assert len(in_currency) <= max(nonzero - 1, 0)
        for _, payer, payee, amount in in_currency:
            assert amount > 0
            assert payer != payee
            # money flows one way: a payer is a net debtor, a payee a net creditor
            assert owed[(currency, payer)] < 0 < owed[(currency, payee)]


def period_obligations(period: SettlementPeriod) -> list[tuple[str, int, int, int]]:
    return [
        (o.currency, o.debtor_id, o.creditor_id, o.amount)
        for o in BilateralObligation.objects.filter(period=period)
    ]


def period_transfers(period: SettlementPeriod) -> list[tuple[str, int, int, int]]:
    return [
        (t.currency, t.payer_id, t.payee_id, t.amount)
        for t in NettedTransfer.objects.filter(period=period)
    ]


def nets_per_currency(period: SettlementPeriod) -> dict[str, int]:
    totals: defaultdict[str, int] = defaultdict(int)
    for statement in Statement.objects.filter(period=period):
        totals[statement.currency] += statement.net_amount
    return dict(totals)


def paid_period() -> tuple[SettlementPeriod, Statement, Statement]:
    """A closed period with a net payer (invoiced 1000) and a net receiver (owed
    600 x 0.5 = 300, transferred), both paid through the running Stripe fake.
    Returns (period, payer's statement, receiver's statement)."""
    from coalition.ledger import services as ledger
    from coalition.settlement.stripe import gateway

    payer, payee = onboard_partner("payer", "EUR"), onboard_partner("payee", "EUR")
    known_terms(payer, issuance_price="1.0", reimbursement_rate="0.5")
    known_terms(payee, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member()
    ledger.earn(member_id=member, partner_id=payer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=payee.pk, points=600)
    period = close_now()
    Partner.objects.filter(pk=payee.pk).update(stripe_account_id="acct_payee")
    assert gateway.pay_out_period(period.pk).paid == 2
    return period, statement_of(period, payer), statement_of(period, payee)


@contextmanager
def running_stripe_fake() -> Iterator[FakeStripeServer]:
    """The Stripe fake on a free port, with the settings that point the SDK at it."""
    server = FakeStripeServer().start()
    try:
        with override_settings(
            STRIPE_API_KEY=API_KEY,
            STRIPE_API_BASE=server.base_url,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        ):
            yield server
    finally:
        server.stop()


def period_with_netting(issuer: Partner, redeemer: Partner) -> SettlementPeriod:
    """A closed period in which a member earned 1000 points at ``issuer`` and spent
    600 at ``redeemer``: two statements (with a 2 % fee on issuance), one bilateral
    obligation (issuer owes redeemer 600 x 0.5 = 300) and one netted transfer."""
    from coalition.ledger import services as ledger

    known_terms(issuer, issuance_price="1.0", reimbursement_rate="0.5", fee_percent="2")
    known_terms(redeemer, issuance_price="1.0", reimbursement_rate="0.5")
    close_everything_before()
    member = new_member("netting")
    ledger.earn(member_id=member, partner_id=issuer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=redeemer.pk, points=600)
    return close_now(enqueue_payouts=False)
