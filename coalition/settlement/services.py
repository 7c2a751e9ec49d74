"""Closing settlement periods and computing partner statements.

A period covers the journal transactions with start < id <= end watermark. The
end is read under the journal's SHARE lock (``ledger.selectors.safe_watermark``):
every transaction with a lower id has committed, none can appear later, so each
transaction lands in exactly one period whatever its timestamp says.

Valuation: each event at the partner's terms in force when it was posted.
Per partner and period:

    issued            + points issued x issuance price
    issued_reversal   - points taken back by returns x issuance price
                        (returns of earlier periods' purchases are settled now, and say so)
    redeemed          - points honoured here x reimbursement rate
    redeemed_reversal + redemptions reversed x reimbursement rate
    breakage_share    - expired points this partner issued x price x share %
    fee_percent       + fee % x issued amount
    fee_fixed         + the fixed fee per period

Positive net: the partner pays the coalition (invoice); negative: the coalition
pays the partner (Stripe Connect transfer). What the coalition keeps per currency
is computed separately from the same events, and equals the sum of the nets.

Everything is aggregated in a few set-based statements over the watermark range,
so closing a period costs about one GROUP BY over its entries.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from coalition.ledger.selectors import safe_watermark
from coalition.settlement.errors import (  # noqa: F401
    InvalidTerms,
    MixedCurrencies,
    PeriodNotDue,
    SettlementError,
    TermsMissing,
)
from coalition.settlement.models import (
    LineKind,
    NettedTransfer,
    PaymentStatus,
    PeriodStatus,
    SettlementPeriod,
    SettlementTerms,
    Statement,
    StatementLine,
)
from coalition.webhooks import services as webhooks
from loyalty_kernel import jobs
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.money import is_known_currency
from loyalty_kernel.money import money as money_view
from tenants.partners.models import Partner


def money(points: int | Decimal, rate: Decimal) -> int:
    return int((Decimal(points) * rate).to_integral_value(ROUND_HALF_UP))


# --- terms ----------------------------------------------------------------------------


def terms_set(
    *,
    partner: Partner,
    effective_from: datetime,
    issuance_price: Decimal,
    reimbursement_rate: Decimal,
    currency: str | None = None,
    fee_percent: Decimal = Decimal(0),
    fee_fixed: int = 0,
    breakage_share_percent: Decimal = Decimal(0),
) -> SettlementTerms:
    currency = (currency or partner.default_currency).upper()
    if not is_known_currency(currency):
        raise InvalidTerms(f"unknown currency {currency!r}", field="currency")
    if timezone.is_naive(effective_from):
        raise InvalidTerms("effective_from needs a time zone", field="effective_from")
    if min(issuance_price, reimbursement_rate) < 0 or fee_fixed < 0:
        raise InvalidTerms("prices and fees cannot be negative")
    if not (0 <= fee_percent <= 100 and 0 <= breakage_share_percent <= 100):
        raise InvalidTerms("percentages are between 0 and 100")
    settles_in = (
        SettlementTerms.objects.filter(partner=partner)
        .order_by("-effective_from")
        .values_list("currency", flat=True)
        .first()
    )
    if settles_in is not None and settles_in != currency:
        raise InvalidTerms(
            f"{partner.name} settles in {settles_in}; its terms cannot switch to {currency}",
            field="currency",
        )
    latest_close = (
        SettlementPeriod.objects.filter(status=PeriodStatus.CLOSED)
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    if latest_close is not None and effective_from < latest_close:
        raise InvalidTerms(
            "terms cannot take effect inside a closed period", field="effective_from"
        )
    return SettlementTerms.objects.create(
        partner=partner,
        effective_from=effective_from,
        currency=currency,
        issuance_price=issuance_price,
        reimbursement_rate=reimbursement_rate,
        fee_percent=fee_percent,
        fee_fixed=fee_fixed,
        breakage_share_percent=breakage_share_percent,
    )


def _terms_by_id() -> dict[int, SettlementTerms]:
    return {terms.pk: terms for terms in SettlementTerms.objects.all()}


# Terms as time ranges, to value each event with a hash join instead of a
# per-row lookup.
TERMS_RANGES = """
terms AS (
    SELECT id, partner_id, effective_from AS starts,
           coalesce(lead(effective_from) OVER (PARTITION BY partner_id ORDER BY effective_from),
                    'infinity'::timestamptz) AS ends
      FROM public.settlement_settlementterms
)
"""

# The partner accounts come as a list of ids, not as a join condition on their
# kind: the planner then estimates from the entries' own statistics (partner
# accounts are the journal's most common accounts) and hash-joins the period's
# entries to their transactions, instead of expecting a few and probing the
# journal once per entry (3x slower over a million entries). A transaction posts
# to an account at most once, so count(*) counts transactions without the sort
# that count(DISTINCT ...) needs.
PARTNER_EVENTS_SQL = f"""
WITH {TERMS_RANGES}
SELECT a.partner_id, a.kind, t.kind, terms.id,
       (t.kind IN ('earn_reversal', 'burn_reversal') AND t.reverses_id <= %(start)s),
       count(*), sum(e.amount), min(t.id), max(t.id)
  FROM public.ledger_entry e
  JOIN public.ledger_account a ON a.id = e.account_id
  JOIN public.ledger_transaction t ON t.id = e.transaction_id
  LEFT JOIN terms ON terms.partner_id = a.partner_id
                 AND t.created_at >= terms.starts AND t.created_at < terms.ends
 WHERE e.transaction_id > %(start)s AND e.transaction_id <= %(end)s
   AND (%(partner)s::bigint IS NULL OR a.partner_id = %(partner)s::bigint)
   AND e.account_id = ANY(%(accounts)s::bigint[])
 GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608 - constant fragments only

BREAKAGE_SQL = f"""
WITH {TERMS_RANGES}
SELECT l.issuer_id, terms.id, count(DISTINCT t.id), -sum(m.points), min(t.id), max(t.id)
  FROM public.ledger_transaction t
  JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
  JOIN public.ledger_lot l ON l.id = m.lot_id
  LEFT JOIN terms ON terms.partner_id = l.issuer_id
                 AND t.created_at >= terms.starts AND t.created_at < terms.ends
 WHERE t.id > %(start)s AND t.id <= %(end)s AND t.kind = 'expiry'
   AND (%(partner)s::bigint IS NULL OR l.issuer_id = %(partner)s::bigint)
 GROUP BY 1, 2
"""  # noqa: S608 - constant fragments only

# Redeemed points per (issuer, redeemer): burns and their reversals through their
# own lot movements; captures through the hold's authorisation net of the release.
ATTRIBUTION_SQL = f"""
WITH {TERMS_RANGES},
redemptions AS (
    SELECT t.id, t.partner_id AS redeemer, t.created_at, m.lot_id, -m.points AS points
      FROM public.ledger_transaction t
      JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
     WHERE t.id > %(start)s AND t.id <= %(end)s AND t.kind IN ('burn', 'burn_reversal')
    UNION ALL
    SELECT c.id, c.partner_id, c.created_at, m.lot_id, -m.points
      FROM public.ledger_transaction c
      JOIN public.ledger_transaction h ON h.hold_id = c.hold_id AND h.kind = 'hold'
      JOIN public.ledger_lotmovement m ON m.transaction_id IN (h.id, c.id)
     WHERE c.id > %(start)s AND c.id <= %(end)s AND c.kind = 'capture'
)
SELECT l.issuer_id, r.redeemer, terms.id, sum(r.points)
  FROM redemptions r
  JOIN public.ledger_lot l ON l.id = r.lot_id
  LEFT JOIN terms ON terms.partner_id = r.redeemer
                 AND r.created_at >= terms.starts AND r.created_at < terms.ends
 GROUP BY 1, 2, 3
"""  # noqa: S608 - constant fragments only


@dataclass
class DraftLine:
    kind: str
    description: str
    terms: SettlementTerms | None
    transactions: int
    points: int
    rate: Decimal | None
    amount: int
    first_transaction_id: int | None = None
    last_transaction_id: int | None = None


@dataclass
class DraftStatement:
    partner_id: int
    currency: str
    lines: list[DraftLine] = field(default_factory=list)

    @property
    def net(self) -> int:
        return sum(line.amount for line in self.lines)


def _require_terms(
    terms_id: int | None, partner_id: int, known: dict[int, SettlementTerms]
) -> SettlementTerms:
    if terms_id is None or terms_id not in known:
        raise TermsMissing(
            f"partner {partner_id} has events in this period but no settlement terms in force "
            "when they were posted; add terms from before those events, then close again"
        )
    return known[terms_id]


def _one_currency(draft: DraftStatement, terms: SettlementTerms) -> DraftStatement:
    if draft.currency != terms.currency:
        raise MixedCurrencies(
            f"partner {draft.partner_id} has {draft.currency} and {terms.currency} terms in "
            "force in this period; a statement settles in one currency"
        )
    return draft


def compute_statements(
    start: int, end: int, *, partner_id: int | None = None
) -> tuple[dict[int, DraftStatement], dict[str, int]]:
    """Draft statements for transactions in (start, end], and the coalition's margin
    per currency computed independently from the same events."""
    known = _terms_by_id()
    drafts: dict[int, DraftStatement] = {}
    margin: dict[str, int] = defaultdict(int)

    def draft_for(partner_id: int, terms: SettlementTerms) -> DraftStatement:
        if partner_id not in drafts:
            drafts[partner_id] = DraftStatement(partner_id, terms.currency)
        return _one_currency(drafts[partner_id], terms)

    params = {"start": start, "end": end, "partner": partner_id}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM public.ledger_account WHERE kind IN ('issuance', 'redemption')"
        )
        accounts = [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(PARTNER_EVENTS_SQL, {**params, "accounts": accounts})
        partner_rows = cursor.fetchall()
        cursor.execute(BREAKAGE_SQL, params)
        breakage_rows = cursor.fetchall()
    issued_amounts: dict[tuple[int, int], int] = defaultdict(int)
    for partner_id, account_kind, tx_kind, terms_id, earlier, count, total, first, last in sorted(
        partner_rows, key=lambda row: (row[0], row[1], row[2], row[3] or 0, row[4])
    ):
        terms = _require_terms(terms_id, partner_id, known)
        total = int(total)
        if account_kind == "issuance":
            price = terms.issuance_price
            if tx_kind == "earn":
                kind, points, amount, text = LineKind.ISSUED, -total, money(-total, price), "issued"
                issued_amounts[(partner_id, terms.pk)] += amount
                margin[terms.currency] += amount
            else:
                kind, points = LineKind.ISSUED_REVERSAL, total
                amount = -money(total, price)
                margin[terms.currency] += amount
                text = "returned" + (" (purchases of earlier periods)" if earlier else "")
            rate = price
        else:
            rate = terms.reimbursement_rate
            if tx_kind == "burn_reversal":
                kind, points, amount = LineKind.REDEEMED_REVERSAL, -total, money(-total, rate)
                text = "redemptions reversed" + (" (of earlier periods)" if earlier else "")
            else:
                kind, points, amount = LineKind.REDEEMED, total, -money(total, rate)
                text = "redeemed" if tx_kind == "burn" else "paid with points (captured holds)"
            margin[terms.currency] += amount
        draft_for(partner_id, terms).lines.append(
            DraftLine(
                kind,
                f"{points} points {text} at {rate}",
                terms,
                int(count),
                points,
                rate,
                amount,
                first,
                last,
            )
        )
    for issuer_id, terms_id, count, points, first, last in breakage_rows:
        terms = _require_terms(terms_id, issuer_id, known)
        if not terms.breakage_share_percent:
            continue
        rate = terms.issuance_price * terms.breakage_share_percent / 100
        amount = -money(int(points), rate)
        margin[terms.currency] += amount
        draft_for(issuer_id, terms).lines.append(
            DraftLine(
                LineKind.BREAKAGE_SHARE,
                f"{points} expired points, {terms.breakage_share_percent}% share",
                terms,
                int(count),
                int(points),
                rate,
                amount,
                first,
                last,
            )
        )
    for (partner_id, terms_id), issued in issued_amounts.items():
        terms = known[terms_id]
        if terms.fee_percent:
            fee = money(issued, terms.fee_percent / 100)
            margin[terms.currency] += fee
            drafts[partner_id].lines.append(
                DraftLine(
                    LineKind.FEE_PERCENT,
                    f"{terms.fee_percent}% of {issued}",
                    terms,
                    0,
                    0,
                    terms.fee_percent,
                    fee,
                )
            )
    return drafts, dict(margin)


def _fixed_fees(drafts: dict[int, DraftStatement], margin: dict[str, int], at: datetime) -> None:
    """The fixed fee of the terms in force at the close, for every partner with terms."""
    latest: dict[int, SettlementTerms] = {}
    for terms in SettlementTerms.objects.filter(effective_from__lte=at).order_by("effective_from"):
        latest[terms.partner_id] = terms
    for partner_id, terms in latest.items():
        if not terms.fee_fixed:
            continue
        draft = drafts.setdefault(partner_id, DraftStatement(partner_id, terms.currency))
        _one_currency(draft, terms)
        draft.lines.append(
            DraftLine(
                LineKind.FEE_FIXED, "fixed fee per period", terms, 0, 0, None, terms.fee_fixed
            )
        )
        margin[terms.currency] = margin.get(terms.currency, 0) + terms.fee_fixed


# --- obligations and multilateral netting ------------------------------------------------


@dataclass(frozen=True)
class Obligation:
    currency: str
    debtor: int
    creditor: int
    points: int
    amount: int


def bilateral_obligations(start: int, end: int) -> list[Obligation]:
    """Issuer owes redeemer, for the issuer's points honoured at the redeemer (at the
    redeemer's reimbursement rate): the gross view, before netting."""
    known = _terms_by_id()
    with connection.cursor() as cursor:
        cursor.execute(ATTRIBUTION_SQL, {"start": start, "end": end})
        rows = cursor.fetchall()
    totals: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for issuer, redeemer, terms_id, points in rows:
        if issuer == redeemer or not points:
            continue  # own points honoured at home: no one else owes anything
        terms = _require_terms(terms_id, redeemer, known)
        entry = totals[(terms.currency, issuer, redeemer)]
        entry[0] += int(points)
        entry[1] += money(int(points), terms.reimbursement_rate)
    return [
        Obligation(currency, debtor, creditor, points, amount)
        for (currency, debtor, creditor), (points, amount) in sorted(totals.items())
        if amount
    ]


def net_obligations(obligations: list[Obligation]) -> list[tuple[str, int, int, int]]:
    """Net every partner's position per currency and settle it with the fewest
    payments: repeatedly match the largest debtor with the largest creditor. Each
    match zeroes at least one of them, so n partners need at most n - 1 payments."""
    positions: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for obligation in obligations:
        positions[obligation.currency][obligation.debtor] -= obligation.amount
        positions[obligation.currency][obligation.creditor] += obligation.amount
    transfers: list[tuple[str, int, int, int]] = []
    for currency, balances in sorted(positions.items()):
        debtors = sorted(((-v, p) for p, v in balances.items() if v < 0), reverse=True)
        creditors = sorted(((v, p) for p, v in balances.items() if v > 0), reverse=True)
        while debtors and creditors:
            owed, debtor = debtors.pop(0)
            due, creditor = creditors.pop(0)
            paid = min(owed, due)
            transfers.append((currency, debtor, creditor, paid))
            if owed > paid:
                debtors.append((owed - paid, debtor))
                debtors.sort(reverse=True)
            if due > paid:
                creditors.append((due - paid, creditor))
                creditors.sort(reverse=True)
    return transfers


# --- periods ------------------------------------------------------------------------------


def period_open() -> SettlementPeriod:
    period = SettlementPeriod.objects.filter(status__in=[PeriodStatus.OPEN, PeriodStatus.CLOSING])
    found = period.order_by("number").first()
    if found is not None:
        return found
    last = SettlementPeriod.objects.order_by("-number").first()
    with transaction.atomic():
        return SettlementPeriod.objects.create(
            number=(last.number + 1) if last else 1,
            start_watermark=(last.end_watermark or 0) if last else 0,
        )


def period_due_at(period: SettlementPeriod, frequency: str | None = None) -> datetime:
    """When a period opened at ``opened_at`` is due to close (UTC boundaries)."""
    frequency = frequency or settings.LOYALTY_SETTLEMENT_FREQUENCY
    opened = period.opened_at.astimezone(UTC)
    day = datetime(opened.year, opened.month, opened.day, tzinfo=UTC)
    if frequency == "daily":
        return day + timedelta(days=1)
    if frequency == "weekly":
        return day + timedelta(days=7 - opened.weekday())
    last_day = calendar.monthrange(opened.year, opened.month)[1]
    return day + timedelta(days=last_day - opened.day + 1)


def period_close(
    *, period: SettlementPeriod | None = None, idempotency: IdempotencyKey | None = None
) -> SettlementPeriod:
    """Close the open period at the current safe watermark. Idempotent and
    resumable: a closed period is returned as it is; a period left 'closing' by a
    crash keeps its watermark and is computed again from it; a request repeated
    with its idempotency key returns the period it closed, not the next one."""
    if idempotency is not None:
        done = SettlementPeriod.objects.filter(
            close_scope=idempotency.scope, close_key=idempotency.key
        ).first()
        if done is not None:
            return done if done.status == PeriodStatus.CLOSED else period_close(period=done)
    period = period or period_open()
    if period.status == PeriodStatus.CLOSED:
        return period
    if period.end_watermark is None:
        watermark = safe_watermark()
        with transaction.atomic():
            locked = SettlementPeriod.objects.select_for_update().get(pk=period.pk)
            if locked.end_watermark is None:
                locked.end_watermark = max(watermark, locked.start_watermark)
                locked.status = PeriodStatus.CLOSING
                if idempotency is not None:
                    locked.close_scope, locked.close_key = idempotency.scope, idempotency.key
                locked.save(update_fields=["end_watermark", "status", "close_scope", "close_key"])
            period = locked
    with transaction.atomic():
        locked = SettlementPeriod.objects.select_for_update().get(pk=period.pk)
        if locked.status == PeriodStatus.CLOSED:
            return locked
        assert locked.end_watermark is not None
        now = timezone.now()
        drafts, margin = compute_statements(locked.start_watermark, locked.end_watermark)
        _fixed_fees(drafts, margin, now)
        _persist_statements(locked, drafts)
        obligations = bilateral_obligations(locked.start_watermark, locked.end_watermark)
        _insert_obligations(locked.pk, obligations)
        NettedTransfer.objects.bulk_create(
            NettedTransfer(period=locked, currency=c, payer_id=payer, payee_id=payee, amount=a)
            for c, payer, payee, a in net_obligations(obligations)
        )
        locked.coalition_margin = margin
        locked.status = PeriodStatus.CLOSED
        locked.closed_at = now
        locked.save(update_fields=["coalition_margin", "status", "closed_at"])
        SettlementPeriod.objects.create(
            number=locked.number + 1, start_watermark=locked.end_watermark
        )
        jobs.after_commit(_enqueue_payouts, locked.pk)
    return locked


def _insert_obligations(period_id: int, obligations: list[Obligation]) -> None:
    """One set-based INSERT: a period can have thousands of pairs (3,677 for 100
    partners), and building that many model instances cost ~0.1 s of the close."""
    if not obligations:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO public.settlement_bilateralobligation
                (period_id, currency, debtor_id, creditor_id, points, amount)
            SELECT %s, o.currency, o.debtor, o.creditor, o.points, o.amount
              FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                   AS o(currency, debtor, creditor, points, amount)
            """,
            [
                period_id,
                [o.currency for o in obligations],
                [o.debtor for o in obligations],
                [o.creditor for o in obligations],
                [o.points for o in obligations],
                [o.amount for o in obligations],
            ],
        )


def _enqueue_payouts(period_id: int) -> None:
    if not settings.STRIPE_API_KEY:
        return
    from coalition.settlement.tasks import pay_out_period

    pay_out_period.delay(period_id)


def _persist_statements(period: SettlementPeriod, drafts: dict[int, DraftStatement]) -> None:
    # Two INSERTs whatever the number of partners: the statements, then every line.
    statements = Statement.objects.bulk_create(
        Statement(
            period=period,
            partner_id=partner_id,
            currency=drafts[partner_id].currency,
            net_amount=drafts[partner_id].net,
            payment_status=PaymentStatus.PENDING
            if drafts[partner_id].net
            else PaymentStatus.NOTHING_DUE,
        )
        for partner_id in sorted(drafts)
    )
    StatementLine.objects.bulk_create(
        StatementLine(
            statement=statement,
            kind=line.kind,
            description=line.description[:200],
            terms=line.terms,
            transactions=line.transactions,
            points=line.points,
            rate=line.rate,
            amount=line.amount,
            first_transaction_id=line.first_transaction_id,
            last_transaction_id=line.last_transaction_id,
        )
        for statement in statements
        for line in drafts[statement.partner_id].lines
    )
    # One look-up of who listens, not one per statement (100 partners: 100 queries).
    listening = webhooks.partners_subscribed("statement_closed")
    for statement in statements:
        if statement.partner_id not in listening:
            continue
        partner_id, net, currency = statement.partner_id, statement.net_amount, statement.currency
        webhooks.emit(partner_id, "statement_closed", {
            "period": period.number, "statement_id": statement.pk,
            "net": money_view(net, currency), "payment_status": statement.payment_status,
        })  # fmt: skip


def periods_close_due(*, now: datetime | None = None) -> list[SettlementPeriod]:
    """The periodic job: close the open period if its schedule says so. Safe to run
    twice: the next period is not due yet."""
    now = now or timezone.now()
    period = period_open()
    if period.status == PeriodStatus.CLOSING or now >= period_due_at(period):
        return [period_close(period=period)]
    return []


# --- live position and liability -----------------------------------------------------------


def live_position(partner: Partner) -> DraftStatement:
    """The partner's running statement for the open period (not locked: a view)."""
    period = period_open()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        (end,) = cursor.fetchone()
    drafts, _ = compute_statements(period.start_watermark, int(end), partner_id=partner.pk)
    return drafts.get(partner.pk, DraftStatement(partner.pk, partner.default_currency))


@dataclass(frozen=True)
class LiabilityLine:
    issuer_id: int
    outstanding_points: int
    currency: str | None
    value: int | None  # outstanding points at the issuer's current issuance price


@dataclass(frozen=True)
class LiabilityReport:
    lines: list[LiabilityLine]
    outstanding_points: int
    expired_points: int
    redeemed_points: int
    breakage_rate: Decimal  # expired / (expired + redeemed), from history


def _terms_in_force(now: datetime, partner_id: int | None = None) -> dict[int, SettlementTerms]:
    """Each partner's terms in force at ``now`` (one partner's, when given)."""
    terms_rows = SettlementTerms.objects.filter(effective_from__lte=now)
    if partner_id is not None:
        terms_rows = terms_rows.filter(partner_id=partner_id)
    current: dict[int, SettlementTerms] = {}
    for terms in terms_rows.order_by("effective_from"):
        current[terms.partner_id] = terms
    return current


def _liability_line(issuer_id: int, points: int, terms: SettlementTerms | None) -> LiabilityLine:
    """Outstanding points valued at the issuer's current issuance price (no
    value without terms: nothing says what the points are worth)."""
    return LiabilityLine(
        issuer_id,
        points,
        terms.currency if terms else None,
        money(points, terms.issuance_price) if terms else None,
    )


def issuer_liability(*, partner_id: int, now: datetime | None = None) -> LiabilityLine:
    """The share of the coalition's liability one partner issued: its points still
    in members' wallets (unspent, unexpired lots), valued like ``liability_report``
    values that partner's line."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(remaining), 0) FROM public.ledger_lot
             WHERE remaining > 0 AND issuer_id = %s
            """,
            [partner_id],
        )
        (points,) = cursor.fetchone()
    return _liability_line(
        partner_id, int(points), _terms_in_force(now, partner_id).get(partner_id)
    )


def liability_report(*, now: datetime | None = None) -> LiabilityReport:
    """Deferred revenue: points outstanding per issuer and their value, expired
    points, and the breakage rate estimated from what happened to points so far."""
    now = now or timezone.now()
    current = _terms_in_force(now)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT issuer_id, sum(remaining) FROM public.ledger_lot
             WHERE remaining > 0 GROUP BY issuer_id ORDER BY issuer_id
            """
        )
        outstanding = cursor.fetchall()
        cursor.execute(
            """
            SELECT t.kind, -sum(m.points) FROM public.ledger_lotmovement m
              JOIN public.ledger_transaction t ON t.id = m.transaction_id
             WHERE t.kind IN ('expiry', 'burn', 'capture', 'burn_reversal')
                OR (t.kind = 'hold' AND EXISTS (
                        SELECT 1 FROM public.ledger_hold h
                         WHERE h.id = t.hold_id AND h.status = 'captured'))
             GROUP BY t.kind
            """
        )
        moved = dict(cursor.fetchall())
    expired = int(moved.get("expiry", 0))
    # held points count as redeemed only once captured: a captured hold's
    # authorisation minus the release at capture is what was captured; pending,
    # voided and expired holds redeem nothing
    redeemed = int(moved.get("burn", 0)) + int(moved.get("burn_reversal", 0))
    redeemed += int(moved.get("hold", 0)) + int(moved.get("capture", 0))
    lines = [
        _liability_line(issuer_id, int(points), current.get(issuer_id))
        for issuer_id, points in outstanding
    ]
    resolved = expired + redeemed
    rate = (
        (Decimal(expired) / Decimal(resolved)).quantize(Decimal("0.0001"))
        if resolved
        else Decimal(0)
    )
    return LiabilityReport(
        lines, sum(line.outstanding_points for line in lines), expired, redeemed, rate
    )


def statement_transactions(line: StatementLine) -> list[int]:
    """The journal transactions behind a statement line (its audit trail)."""
    statement = line.statement
    period = statement.period
    account_kind = (
        "issuance" if line.kind in {LineKind.ISSUED, LineKind.ISSUED_REVERSAL} else "redemption"
    )
    tx_kinds = {
        LineKind.ISSUED: ["earn"],
        LineKind.ISSUED_REVERSAL: ["earn_reversal"],
        LineKind.REDEEMED: ["burn", "capture"],
        LineKind.REDEEMED_REVERSAL: ["burn_reversal"],
    }.get(LineKind(line.kind))
    if tx_kinds is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH {TERMS_RANGES}
            SELECT DISTINCT t.id FROM public.ledger_transaction t
              JOIN public.ledger_entry e ON e.transaction_id = t.id
              JOIN public.ledger_account a ON a.id = e.account_id
              JOIN terms ON terms.id = %s
                        AND t.created_at >= terms.starts AND t.created_at < terms.ends
             WHERE t.id > %s AND t.id <= %s AND a.partner_id = %s AND a.kind = %s
               AND t.kind = ANY(%s)
             ORDER BY t.id
            """,  # noqa: S608 - constant SQL fragment
            [
                line.terms_id,
                period.start_watermark,
                period.end_watermark,
                statement.partner_id,
                account_kind,
                tx_kinds,
            ],
        )
        return [int(row[0]) for row in cursor.fetchall()]
