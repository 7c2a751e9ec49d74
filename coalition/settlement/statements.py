"""Partner statements: valuing a watermark range of journal events per partner,
persisting the statements of a closed period, and each line's audit trail.

Valuation: each event at the partner's terms in force when it was posted.
Per partner and period:

    issued            + points issued x issuance price
    issued            + points added by the partner's adjustments x issuance price
    issued_reversal   - points taken back by returns x issuance price
    issued_reversal   - points taken back by the partner's adjustments x issuance price
                        (returns of earlier periods' purchases are settled now, and say so)
    redeemed          - points honoured here x reimbursement rate
    redeemed_reversal + redemptions reversed x reimbursement rate
    breakage_share    - expired points this partner issued x price x share %
    fee_percent       + fee % x issued amount
    fee_fixed         + the fixed fee of each calendar month that ended by the
                        close and was not billed yet (``fixed_fees_due``)

Positive net: the partner pays the coalition (invoice); negative: the coalition
pays the partner (Stripe Connect transfer). What the coalition keeps per currency
is computed separately from the same events, and equals the sum of the nets.

A charity's statement has one line per period, ``donated``: the points members
gave it x the charity's point value, which the coalition pays it (net <= 0).

Everything is aggregated in a few set-based statements over the watermark range,
so closing a period costs about one GROUP BY over its entries.

The module is longer than 500 lines because a line's audit trail
(``line_transactions``) must select exactly the journal events its valuation
counted, with the same kinds, signs and watermark range: kept beside the
valuation, the two cannot drift apart.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from coalition.charity.models import Charity
from coalition.settlement.errors import MixedCurrencies
from coalition.settlement.models import (
    FixedFeeCharge,
    LineKind,
    PaymentStatus,
    SettlementPeriod,
    SettlementTerms,
    Statement,
    StatementLine,
)
from coalition.settlement.terms import (
    TERMS_IN_FORCE_AT_EACH_SQL,
    TERMS_RANGES,
    money,
    require_terms,
    terms_by_id,
)
from coalition.webhooks import services as webhooks
from loyalty_kernel.money import money as money_view

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
       coalesce(t.kind IN ('earn_reversal', 'burn_reversal') AND t.reverses_id <= %(start)s,
                false),
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

# Expired coalition goodwill (lots with no issuer) is the coalition's own: no
# partner gets a breakage share of it.
BREAKAGE_SQL = f"""
WITH {TERMS_RANGES}
SELECT l.issuer_id, terms.id, count(DISTINCT t.id), -sum(m.points), min(t.id), max(t.id)
  FROM public.ledger_transaction t
  JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
  JOIN public.ledger_lot l ON l.id = m.lot_id
  LEFT JOIN terms ON terms.partner_id = l.issuer_id
                 AND t.created_at >= terms.starts AND t.created_at < terms.ends
 WHERE t.id > %(start)s AND t.id <= %(end)s AND t.kind = 'expiry'
   AND l.issuer_id IS NOT NULL
   AND (%(partner)s::bigint IS NULL OR l.issuer_id = %(partner)s::bigint)
 GROUP BY 1, 2
"""  # noqa: S608 - constant fragments only


# Journal kinds that issue points on the partner's issuance account: an earn, and
# a partner's adjustment that adds points (settled like issued points, fee % and
# all); every other kind on that account takes points back (a return, or an
# adjustment that takes points back) and is settled like a return.
ISSUING_KINDS = frozenset({"earn", "adjustment_credit"})


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
    fee_month: date | None = None  # a fixed fee's calendar month
    # what selects its transactions (see ``StatementLine``)
    account_kind: str = ""
    transaction_kind: str = ""
    earlier_periods: bool = False


@dataclass
class DraftStatement:
    partner_id: int | None
    currency: str
    lines: list[DraftLine] = field(default_factory=list)
    charity_id: int | None = None

    @property
    def net(self) -> int:
        return sum(line.amount for line in self.lines)


def _one_currency(draft: DraftStatement, terms: SettlementTerms) -> DraftStatement:
    if draft.currency != terms.currency:
        raise MixedCurrencies(
            f"partner {draft.partner_id} has {draft.currency} and {terms.currency} terms in "
            "force in this period; a statement settles in one currency"
        )
    return draft


def _one_version(
    rows: list[tuple[Any, ...]], partner_id: int, *, terms_column: int, keys: int
) -> list[tuple[Any, ...]]:
    """The valuation rows with ``partner_id``'s versions merged into one (no id):
    after the keys, rows end with count, sum, first and last transaction."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    others = []
    for row in rows:
        if row[0] != partner_id:
            others.append(row)
            continue
        key = (*row[:terms_column], None, *row[terms_column + 1 : keys])
        count, total, first, last = row[keys:]
        if key not in merged:
            merged[key] = [count, total, first, last]
        else:
            seen = merged[key]
            seen[0], seen[1] = seen[0] + count, seen[1] + total
            seen[2], seen[3] = min(seen[2], first), max(seen[3], last)
    return others + [(*key, *values) for key, values in merged.items()]


def compute_statements(
    start: int, end: int, *, partner_id: int | None = None, valued_at: SettlementTerms | None = None
) -> tuple[dict[int, DraftStatement], dict[str, int]]:
    """Draft statements for transactions in (start, end], and the coalition's margin
    per currency computed independently from the same events.

    ``valued_at`` (terms not saved yet) values every event of its partner at those
    terms instead of the ones in force when it was posted: what the period would
    have cost under them (``proposals.terms_preview``)."""
    known = terms_by_id()

    def terms_of(partner_id: int, terms_id: int | None) -> SettlementTerms:
        if valued_at is not None and partner_id == valued_at.partner_id:
            return valued_at
        return require_terms(terms_id, partner_id, known)

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
    if valued_at is not None:
        # one group per kind, as a close with these terms in force all along would have
        partner_rows = _one_version(partner_rows, valued_at.partner_id, terms_column=3, keys=5)
        breakage_rows = _one_version(breakage_rows, valued_at.partner_id, terms_column=1, keys=2)
    # (partner, terms) -> issued amount; the terms by the same key (proposed terms have no id)
    issued_amounts: dict[tuple[int, int | None], int] = defaultdict(int)
    issued_at: dict[tuple[int, int | None], SettlementTerms] = {}
    for partner_id, account_kind, tx_kind, terms_id, earlier, count, total, first, last in sorted(
        partner_rows, key=lambda row: (row[0], row[1], row[2], row[3] or 0, row[4])
    ):
        terms = terms_of(partner_id, terms_id)
        total = int(total)
        points = points_sign(account_kind, tx_kind) * total
        if account_kind == "issuance":
            price = terms.issuance_price
            if tx_kind in ISSUING_KINDS:
                kind, amount = LineKind.ISSUED, money(points, price)
                text = "issued" if tx_kind == "earn" else "added by adjustments"
                issued_amounts[(partner_id, terms.pk)] += amount
                issued_at[(partner_id, terms.pk)] = terms
                margin[terms.currency] += amount
            else:
                kind = LineKind.ISSUED_REVERSAL
                amount = -money(points, price)
                margin[terms.currency] += amount
                text = (
                    "taken back by adjustments"
                    if tx_kind == "adjustment_debit"
                    else "returned" + (" (purchases of earlier periods)" if earlier else "")
                )
            rate = price
        else:
            rate = terms.reimbursement_rate
            if tx_kind == "burn_reversal":
                kind, amount = LineKind.REDEEMED_REVERSAL, money(points, rate)
                text = "redemptions reversed" + (" (of earlier periods)" if earlier else "")
            else:
                kind, amount = LineKind.REDEEMED, -money(points, rate)
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
                account_kind=account_kind,
                transaction_kind=tx_kind,
                earlier_periods=bool(earlier),
            )
        )
    for issuer_id, terms_id, count, points, first, last in breakage_rows:
        terms = terms_of(issuer_id, terms_id)
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
                transaction_kind="expiry",
            )
        )
    for (partner_id, terms_id), issued in issued_amounts.items():
        terms = issued_at[(partner_id, terms_id)]
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


@dataclass(frozen=True)
class FixedFeeDue:
    partner_id: int
    month: date  # its first day (UTC)
    terms: SettlementTerms


def _month_starts(first: datetime, until: datetime) -> list[datetime]:
    """The first instant (UTC) of every calendar month from ``first``'s that ended
    by ``until``."""
    month = datetime(first.astimezone(UTC).year, first.astimezone(UTC).month, 1, tzinfo=UTC)
    months: list[datetime] = []
    while True:
        following = month + timedelta(days=calendar.monthrange(month.year, month.month)[1])
        if following > until:
            return months
        months.append(month)
        month = following


# The fixed fees not billed yet, among the versions in force at given month ends:
# the batched in-force look-up (``terms.TERMS_IN_FORCE_AT_EACH_SQL``) narrowed to
# versions with a fee and to months without a charge, so a close reads the few
# fees due, not every partner's every month since its first terms (26 years of
# months for 100 partners were 32,000 rows and 0.4 s of each close).
FIXED_FEES_DUE_SQL = f"""
SELECT each.at, each.id
  FROM ({TERMS_IN_FORCE_AT_EACH_SQL}) AS each
  JOIN public.settlement_settlementterms v ON v.id = each.id
 WHERE v.fee_fixed > 0
   AND NOT EXISTS (
       SELECT 1 FROM public.settlement_fixedfeecharge c
        WHERE c.partner_id = v.partner_id
          AND c.month = date_trunc('month', each.at AT TIME ZONE 'UTC')::date)
"""  # noqa: S608 - constant fragments only


def fixed_fees_due(*, until: datetime, partner_id: int | None = None) -> list[FixedFeeDue]:
    """The fixed fees a close at ``until`` bills: for every calendar month (UTC) that
    ended by then and was not billed yet, the fee of the terms in force at the
    month's last instant. A month is billed once, by the first close after its end,
    however often periods close."""
    versions = SettlementTerms.objects.filter(fee_fixed__gt=0)
    if partner_id is not None:
        versions = versions.filter(partner_id=partner_id)
    first = versions.order_by("effective_from").values_list("effective_from", flat=True).first()
    if first is None:
        return []
    # The month's last instant decides its fee; one statement for all the months.
    month_of = {
        month
        + timedelta(days=calendar.monthrange(month.year, month.month)[1])
        - timedelta(microseconds=1): month.date()
        for month in _month_starts(first, until)
    }
    if not month_of:
        return []
    with connection.cursor() as cursor:
        cursor.execute(FIXED_FEES_DUE_SQL, {"instants": list(month_of), "partner": partner_id})
        rows = [(at, int(terms_id)) for at, terms_id in cursor.fetchall()]
    terms = SettlementTerms.objects.in_bulk({terms_id for _, terms_id in rows})
    due = [
        FixedFeeDue(terms[terms_id].partner_id, month_of[at], terms[terms_id])
        for at, terms_id in rows
    ]
    return sorted(due, key=lambda fee: (fee.month, fee.partner_id))


def add_fixed_fees(
    drafts: dict[int, DraftStatement], margin: dict[str, int], fees: list[FixedFeeDue]
) -> None:
    """One line per partner and calendar month billed."""
    for fee in fees:
        terms = fee.terms
        draft = drafts.setdefault(fee.partner_id, DraftStatement(fee.partner_id, terms.currency))
        _one_currency(draft, terms)
        draft.lines.append(
            DraftLine(
                LineKind.FEE_FIXED,
                f"fixed fee for {fee.month:%B %Y}",
                terms,
                0,
                0,
                None,
                terms.fee_fixed,
                fee_month=fee.month,
            )
        )
        margin[terms.currency] = margin.get(terms.currency, 0) + terms.fee_fixed


def charity_statements(start: int, end: int, margin: dict[str, int]) -> list[DraftStatement]:
    """Per charity that received donations in (start, end]: one ``donated`` line, the
    points x its point value, which the coalition pays it (added to ``margin``)."""
    charities = {charity.account_id: charity for charity in Charity.objects.all()}
    if not charities:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.account_id, count(*), sum(e.amount), min(t.id), max(t.id)
              FROM public.ledger_entry e
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
             WHERE e.transaction_id > %(start)s AND e.transaction_id <= %(end)s
               AND e.account_id = ANY(%(accounts)s::bigint[]) AND t.kind = 'donation'
             GROUP BY 1
            """,
            {"start": start, "end": end, "accounts": sorted(charities)},
        )
        rows = cursor.fetchall()
    drafts = []
    for account_id, count, points, first, last in sorted(rows):
        charity = charities[account_id]
        amount = -money(int(points), charity.point_value)
        margin[charity.currency] = margin.get(charity.currency, 0) + amount
        line = DraftLine(
            LineKind.DONATED,
            f"{points} points donated at {charity.point_value}",
            None,
            int(count),
            int(points),
            charity.point_value,
            amount,
            first,
            last,
        )
        drafts.append(DraftStatement(None, charity.currency, [line], charity_id=charity.pk))
    return drafts


def _payment_status(net: int) -> str:
    return PaymentStatus.PENDING if net else PaymentStatus.NOTHING_DUE


def persist_statements(
    period: SettlementPeriod,
    drafts: dict[int, DraftStatement],
    charity_drafts: list[DraftStatement] | None = None,
) -> None:
    # Two INSERTs whatever the number of partners: the statements, then every line.
    ordered = [drafts[partner_id] for partner_id in sorted(drafts)] + (charity_drafts or [])
    statements = Statement.objects.bulk_create(
        Statement(
            period=period,
            partner_id=draft.partner_id,
            charity_id=draft.charity_id,
            currency=draft.currency,
            net_amount=draft.net,
            payment_status=_payment_status(draft.net),
        )
        for draft in ordered
    )
    pairs = [
        (statement, line)
        for statement, draft in zip(statements, ordered, strict=True)
        for line in draft.lines
    ]
    lines = StatementLine.objects.bulk_create(
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
            account_kind=line.account_kind,
            transaction_kind=line.transaction_kind,
            earlier_periods=line.earlier_periods,
        )
        for statement, line in pairs
    )
    # The month's charge row is what makes a second billing of it impossible.
    FixedFeeCharge.objects.bulk_create(
        FixedFeeCharge(partner_id=statement.partner_id, month=draft_line.fee_month, line=line)
        for (statement, draft_line), line in zip(pairs, lines, strict=True)
        if draft_line.fee_month is not None and statement.partner_id is not None
    )
    # One look-up of who listens, not one per statement (100 partners: 100 queries).
    listening = webhooks.partners_subscribed("statement_closed")
    for statement in statements:
        if statement.partner_id is None or statement.partner_id not in listening:
            continue
        partner_id, net, currency = statement.partner_id, statement.net_amount, statement.currency
        webhooks.emit(partner_id, "statement_closed", {
            "period": period.number, "statement_id": statement.pk,
            "net": money_view(net, currency), "payment_status": statement.payment_status,
        })  # fmt: skip


# The transactions behind one line, the same group ``compute_statements`` summed:
# the partner's account, the transaction kind, for reversals whether they reverse
# an earlier period's transaction, and the terms in force when each was posted.
# The account is one id and the terms one time window, both looked up first: the
# planner then walks the entries' (account, transaction) index in order and stops
# at the page's end, where a join on the account's kind and the terms' window
# function made it read every entry of the period (a second over a million).
ACCOUNT_LINE_TRANSACTIONS_SQL = """
SELECT t.id, t.created_at, t.kind, t.member_id, e.amount, t.external_ref, t.memo
  FROM public.ledger_entry e
  JOIN public.ledger_transaction t ON t.id = e.transaction_id
 WHERE e.account_id = %(account)s
   AND e.transaction_id > %(low)s AND e.transaction_id <= %(high)s
   AND t.kind = %(tx_kind)s
   AND t.created_at >= %(starts)s::timestamptz
   AND t.created_at < coalesce(%(ends)s::timestamptz, 'infinity'::timestamptz)
   AND coalesce(t.kind IN ('earn_reversal', 'burn_reversal') AND t.reverses_id <= %(start)s,
                false) = %(earlier)s
 ORDER BY e.transaction_id
 LIMIT %(limit)s
"""

# A breakage line's transactions: the expiry sweeps that took this issuer's lots,
# each with the points of its lots it expired (as BREAKAGE_SQL counts them).
BREAKAGE_LINE_TRANSACTIONS_SQL = """
SELECT t.id, t.created_at, t.kind, t.member_id, sum(m.points), t.external_ref, t.memo
  FROM public.ledger_transaction t
  JOIN public.ledger_lotmovement m ON m.transaction_id = t.id
  JOIN public.ledger_lot l ON l.id = m.lot_id
 WHERE t.id > %(low)s AND t.id <= %(high)s
   AND t.kind = 'expiry' AND l.issuer_id = %(partner)s
   AND t.created_at >= %(starts)s::timestamptz
   AND t.created_at < coalesce(%(ends)s::timestamptz, 'infinity'::timestamptz)
 GROUP BY t.id
 ORDER BY t.id
 LIMIT %(limit)s
"""


def points_sign(account_kind: str, tx_kind: str) -> int:
    """How a line counts the entries on the partner's account as points: issuing
    debits the issuance account (a return credits it back); redeeming credits the
    redemption account (a reversed redemption debits it)."""
    if account_kind == "issuance":
        return -1 if tx_kind in ISSUING_KINDS else 1
    if account_kind == "redemption":
        return -1 if tx_kind == "burn_reversal" else 1
    return -1  # lot movements: an expiry takes points out of lots


@dataclass(frozen=True)
class LineTransaction:
    transaction_id: int
    created_at: datetime
    kind: str
    member_id: int | None
    points: int  # as the line counts them: the transactions' points add up to the line's
    external_ref: str
    memo: str


def line_transactions(
    line: StatementLine, *, after: int | None = None, limit: int = 200
) -> list[LineTransaction]:
    """The journal transactions behind a statement line, oldest first, the first
    ``limit`` with an id above ``after``. Fee lines have none; so do lines of
    statements closed before lines said what selects them."""
    statement = line.statement
    period = statement.period
    if statement.partner_id is None or period.end_watermark is None or not line.transaction_kind:
        return []
    if line.terms is None:
        return []
    # the window in which the line's terms were in force (as TERMS_RANGES draws it)
    ends = (
        SettlementTerms.objects.filter(
            partner_id=line.terms.partner_id, effective_from__gt=line.terms.effective_from
        )
        .order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    params = {
        "starts": line.terms.effective_from,
        "ends": ends,
        "partner": statement.partner_id,
        "start": period.start_watermark,
        # the line's own first and last transactions bound the scan: a sparse line
        # (a few returns among a million earns) reads its stretch, not the period
        "low": max(period.start_watermark, (line.first_transaction_id or 1) - 1, after or 0),
        "high": min(period.end_watermark, line.last_transaction_id or period.end_watermark),
        "limit": limit,
        "account_kind": line.account_kind,
        "tx_kind": line.transaction_kind,
        "earlier": line.earlier_periods,
    }
    if line.kind == LineKind.BREAKAGE_SHARE:
        sql = BREAKAGE_LINE_TRANSACTIONS_SQL
    elif line.account_kind:
        sql = ACCOUNT_LINE_TRANSACTIONS_SQL
    else:
        return []
    sign = points_sign(line.account_kind, line.transaction_kind)
    with connection.cursor() as cursor:
        if line.account_kind:
            cursor.execute(
                "SELECT id FROM public.ledger_account WHERE partner_id = %s AND kind = %s",
                [statement.partner_id, line.account_kind],
            )
            account = cursor.fetchone()
            if account is None:
                return []
            params["account"] = account[0]
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        LineTransaction(int(tid), at, kind, member, sign * int(amount), ref or "", memo or "")
        for tid, at, kind, member, amount, ref, memo in rows
    ]


def statement_transactions(line: StatementLine) -> list[int]:
    """The ids of every journal transaction behind a statement line (its audit trail)."""
    ids: list[int] = []
    while True:
        page = line_transactions(line, after=ids[-1] if ids else None, limit=1000)
        ids.extend(row.transaction_id for row in page)
        if len(page) < 1000:
            return ids
