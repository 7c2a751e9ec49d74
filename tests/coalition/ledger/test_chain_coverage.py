"""The hash chain covers every header field, the memo and the stored result too."""

from __future__ import annotations

import pytest
from django.db import connection

from coalition.ledger import chain, services
from coalition.ledger.verification import verify
from coalition.members.services import member_enrol
from tenants.partners.models import Partner


@pytest.mark.parametrize(
    ("column", "tampered"),
    [("memo", "'a different story'"), ("result", "'{\"balance_after\": 999999}'::jsonb")],
)
def test_altering_a_sealed_header_field_is_found(
    db: None, partner_a: Partner, column: str, tampered: str
) -> None:
    # given an earn, sealed into the chain
    member = member_enrol(email=f"chain-{column}@example.com")
    posting = services.earn(member_id=member.pk, partner_id=partner_a.pk, points=10, memo="ok")
    chain.seal_all()
    assert verify().ok
    # when a superuser rewrites that field with the append-only guard disabled
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            f"UPDATE public.ledger_transaction SET {column} = {tampered} WHERE id = %s",
            [posting.transaction_id],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    # then verification names that transaction
    report = verify()
    assert not report.ok
    assert report.first_broken_transaction == posting.transaction_id
