"""Migration operations Django lacks, for schemas that already hold data."""

from __future__ import annotations

from typing import Any

from django.db import migrations


class DropColumnIndex(migrations.AlterField):
    """``AlterField`` to a field that loses its own index (``db_index=False``: a
    foreign key's index that a composite index starting with it already
    provides), done in the database by dropping that index alone.

    Django's ``AlterField`` drops the foreign key and adds it back, which checks
    every row again while it blocks writes to the table: minutes on a large one.
    Dropping an index takes a moment. Backwards creates it again."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            name = _index_name(schema_editor, model, self.name)
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            quote = schema_editor.quote_name
            name = _index_name(schema_editor, model, self.name)
            column = model._meta.get_field(self.name).column
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} "
                f"ON {quote(model._meta.db_table)} ({quote(column)})"
            )

    def describe(self) -> str:
        return f"Drop the own index of {self.model_name}.{self.name} (another index serves it)"


def _index_name(schema_editor: Any, model: Any, field_name: str) -> str:
    """The name Django gave the field's index when it created it."""
    column = model._meta.get_field(field_name).column
    return str(schema_editor._create_index_name(model._meta.db_table, [column], suffix=""))
