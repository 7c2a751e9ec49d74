"""The committed schema files: the API's public contract, diffed in review.

``coalition.graphql`` is the public host's schema, ``partner.graphql`` the
partner hosts'. A test fails when the code's schema and the files differ;
`loyalty api-schema --write` updates them.
"""

from __future__ import annotations

from pathlib import Path

from graphql import print_schema

from loyalty_graphql.schema import coalition_schema, partner_schema

SCHEMA_DIR = Path(__file__).resolve().parent
SNAPSHOTS = {
    "coalition.graphql": coalition_schema,
    "partner.graphql": partner_schema,
}


def rendered() -> dict[str, str]:
    return {name: print_schema(schema.graphql_schema) + "\n" for name, schema in SNAPSHOTS.items()}


def stale_files() -> list[str]:
    return [
        name
        for name, text in rendered().items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
    ]


def write() -> list[str]:
    changed = stale_files()
    for name, text in rendered().items():
        (SCHEMA_DIR / name).write_text(text)
    return changed
