"""``DropColumnIndex`` drops a field's own index and nothing else: Django's
``AlterField`` to ``db_index=False`` drops the foreign key and adds it back,
which checks every row again while it blocks writes to the table."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import connection, migrations
from django.db.migrations.loader import MigrationLoader

from loyalty_kernel.migration_operations import DropColumnIndex

pytestmark = pytest.mark.django_db

BEFORE = ("ledger", "0007_goodwill")
MIGRATION = "coalition.ledger.migrations.0008_no_duplicate_fk_index"
INDEX = '"ledger_accountsnapshot_account_id_c2e7e121"'


def _sql(operation: Any, *, backwards: bool = False) -> list[str]:
    """The SQL ``operation`` sends, from the ledger's state before migration 0008."""
    before = MigrationLoader(connection).project_state(BEFORE)
    after = before.clone()
    operation.state_forwards("ledger", after)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        if backwards:
            operation.database_backwards("ledger", editor, after, before)
        else:
            operation.database_forwards("ledger", editor, before, after)
    return [" ".join(statement.split()) for statement in editor.collected_sql]


def test_the_index_alone_is_dropped() -> None:
    # given: the ledger's migration that drops a snapshot's own account index
    [operation] = importlib.import_module(MIGRATION).Migration.operations
    assert isinstance(operation, DropColumnIndex)
    # when: it runs forwards, then backwards
    forwards, backwards = _sql(operation), _sql(operation, backwards=True)
    # then: it drops that index (under the name Django gave it), and creates it again
    assert forwards == [f"DROP INDEX IF EXISTS {INDEX};"]
    assert backwards == [
        f'CREATE INDEX IF NOT EXISTS {INDEX} ON "ledger_accountsnapshot" ("account_id");'
    ]
    # while Django's own operation would drop and re-add the foreign key
    alter = migrations.AlterField(operation.model_name, operation.name, operation.field)
    assert any("DROP CONSTRAINT" in statement for statement in _sql(alter))
