"""A receipt's lines are stored exactly as the till sent them, whatever their
text: the insert receives them as one JSON array and unpacks it in SQL, so
quoting, escapes and Unicode must survive the trip; what PostgreSQL cannot
store is refused whole."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.ledger import selectors as ledger_selectors
from tenants.partners.models import Partner
from tenants.purchases.models import Purchase, PurchaseLine
from tenants.purchases.services import ReceiptLine, purchase_record
from tests.testkit import in_partner
from tests.testkit.earning import max_transaction_id, new_member, publish, receipt

# Any text a column of 64 characters holds: no NUL (PostgreSQL's text has none)
# and no lone surrogates (not encodable); quotes, backslashes, brackets, commas
# and characters outside the BMP included.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=64,
)


@st.composite
def lines(draw: Any) -> list[ReceiptLine]:
    drawn = []
    for _ in range(draw(st.integers(1, 6))):
        quantity = draw(st.integers(1, 10**6))
        unit_price = draw(st.integers(0, 10**9))
        discount = draw(st.integers(0, quantity * unit_price))
        drawn.append(ReceiptLine(draw(TEXT), draw(TEXT), quantity, unit_price, discount))
    return drawn


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=lines())
def test_lines_are_stored_as_sent(db: None, partner_a: Partner, sent: list[ReceiptLine]) -> None:
    # given: rules in force and a member
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        # when: a receipt with these lines is recorded
        result = purchase_record(receipt(member.pk, now, *sent), now=now)
        # then: each line is stored, in order, exactly as sent
        stored = PurchaseLine.objects.filter(purchase_id=result.purchase_id).order_by("line_number")
        assert [
            (row.line_number, row.sku, row.category, row.quantity, row.unit_price, row.discount)
            for row in stored
        ] == [
            (number, line.sku, line.category, line.quantity, line.unit_price, line.discount)
            for number, line in enumerate(sent, start=1)
        ]


@pytest.mark.parametrize(
    "line",
    [ReceiptLine("A\x00B", "food", 1, 1000), ReceiptLine("A", "x" * 65, 1, 1000)],
    ids=["a NUL in the sku", "a category longer than its column"],
)
def test_a_line_the_database_cannot_store_is_refused_whole(
    db: None, partner_a: Partner, line: ReceiptLine
) -> None:
    # given: rules in force and a member
    now = timezone.now()
    member = new_member()
    with in_partner(partner_a):
        publish([("base_rate", {"rates": {"EUR": "1"}})], effective_from=now, now=now)
        before = (
            Purchase.objects.count(),
            max_transaction_id(),
            ledger_selectors.balance(member.pk),
        )
        bad = receipt(member.pk, now, ReceiptLine("OK", "food", 1, 500), line)
        # when: a receipt carries a line PostgreSQL cannot store
        with pytest.raises(DataError):
            purchase_record(bad, now=now)
        # then: nothing of it was kept: no purchase, no lines, no points
        after = (
            Purchase.objects.count(),
            max_transaction_id(),
            ledger_selectors.balance(member.pk),
        )
        assert after == before
        assert not Purchase.objects.filter(external_id=bad.external_id).exists()
