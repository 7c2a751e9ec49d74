"""The audit log is append-only in PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from coalition.audit.models import AuditEntry
from coalition.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_an_entry_records_who_what_before_and_after() -> None:
    entry = audit_record(
        actor=None,
        partner_id=None,
        action="test.change",
        target=("thing", 7),
        before={"a": 1},
        after={"a": 2},
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_label, stored.object_id, stored.before, stored.after) == (
        "system",
        "7",
        {"a": 1},
        {"a": 2},
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
        "TRUNCATE audit_auditentry",
    ],
)
def test_entries_cannot_be_changed_or_removed(statement: str) -> None:
    entry = audit_record(actor=None, partner_id=None, action="test.keep", target=("thing", 1))
    params = [entry.pk] if "%s" in statement else []
    with transaction.atomic(), connection.cursor() as cursor:
        with pytest.raises(DatabaseError, match="append-only"):
            cursor.execute(statement, params)
        transaction.set_rollback(True)
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.keep"
