"""Helpers for the earning, purchase and return tests (call inside a partner's
schema where noted). Import as ``tests.testkit.earning``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from coalition.members.models import Member
from coalition.members.services import member_enrol
from tenants.earning import services as earning
from tenants.earning.models import RuleSetVersion
from tenants.purchases.services import Receipt, ReceiptLine

RuleSpec = tuple[str, dict[str, Any]]


def new_member(prefix: str = "shopper", email: str | None = None) -> Member:
    """A member with an e-mail nobody else uses (committed data is never flushed)."""
    return member_enrol(email=email or f"{prefix}-{uuid.uuid4().hex[:12]}@example.com")


def uid(prefix: str = "R") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def publish(
    rules: Sequence[RuleSpec], *, effective_from: datetime, now: datetime
) -> RuleSetVersion:
    """Create, fill and publish a rule version (inside the partner's schema)."""
    version = earning.ruleset_draft_create(description="test")
    for kind, params in rules:
        earning.rule_add(version=version, kind=kind, params=params)
    return earning.ruleset_publish(version=version, effective_from=effective_from, now=now)


def receipt(
    member_id: int,
    occurred_at: datetime,
    *lines: ReceiptLine,
    external_id: str | None = None,
    currency: str = "EUR",
    tax: int = 0,
    tip: int = 0,
    paid_with_points: int = 0,
    total: int | None = None,
    store_code: str | None = None,
) -> Receipt:
    """A receipt whose total adds up unless ``total`` is given."""
    lines = lines or (ReceiptLine("A", "food", 1, 1000),)
    if total is None:
        total = sum(line.quantity * line.unit_price - line.discount for line in lines) + tax + tip
    return Receipt(
        external_id=external_id or uid(),
        member_id=member_id,
        occurred_at=occurred_at,
        currency=currency,
        lines=tuple(lines),
        total=total,
        tax=tax,
        tip=tip,
        paid_with_points=paid_with_points,
        store_code=store_code,
    )


def max_transaction_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM public.ledger_transaction")
        return int(cursor.fetchone()[0])


def transactions_of(member_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM public.ledger_transaction WHERE member_id = %s", [member_id]
        )
        return int(cursor.fetchone()[0])


def earned_by(member_id: int, partner_id: int) -> int:
    """Net points the partner issued to the member (earns minus their reversals)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(e.amount), 0)
              FROM public.ledger_entry e
              JOIN public.ledger_account a ON a.id = e.account_id
              JOIN public.ledger_transaction t ON t.id = e.transaction_id
             WHERE a.kind = 'wallet' AND a.member_id = %s AND t.partner_id = %s
               AND t.kind IN ('earn', 'earn_reversal')
            """,
            [member_id, partner_id],
        )
        return int(cursor.fetchone()[0])
