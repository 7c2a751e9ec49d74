"""No index that another index on the same table already serves.

Django indexes every foreign key; when a composite index or unique constraint
leads with the same column, that index serves lookups by the key alone (and the
check ``ON DELETE`` makes) just as well, and the key's own index only costs every
insert an entry and the table disk. This reads the migrated schemas (the public
one and the partner template every partner is cloned from) and names each plain
index whose key columns, with their operator classes and collations, lead another
index of the same kind on the same table. Unique indexes stay (they enforce
something), as do partial and expression ones on either side: a partial index
holds only some rows, and an expression index does not serve the column itself.
Django's own tables (``auth_*``, ``django_*``) are Django's to define.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db

REDUNDANT_INDEXES = """
WITH idx AS (
    SELECT n.nspname AS schema, t.relname AS tbl, i.relname AS idx, i.relam AS am,
           x.indisunique AS uniq, x.indpred IS NOT NULL AS partial,
           x.indexprs IS NOT NULL AS expr, x.indnatts > x.indnkeyatts AS has_include,
           (string_to_array(x.indkey::text, ' '))[1:x.indnkeyatts] AS cols,
           string_to_array(x.indclass::text, ' ') AS opclass,
           string_to_array(x.indcollation::text, ' ') AS coll
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = ANY(%s)
      AND t.relname NOT LIKE 'auth\\_%%' AND t.relname NOT LIKE 'django\\_%%'
)
SELECT a.schema, a.tbl, a.idx, string_agg(b.idx, ', ' ORDER BY b.idx)
FROM idx a
JOIN idx b ON b.schema = a.schema AND b.tbl = a.tbl AND b.idx <> a.idx AND b.am = a.am
WHERE NOT a.uniq AND NOT a.partial AND NOT a.expr AND NOT a.has_include
  AND NOT b.partial AND NOT b.expr
  AND cardinality(a.cols) <= cardinality(b.cols)
  AND b.cols[1:cardinality(a.cols)] = a.cols
  AND b.opclass[1:cardinality(a.cols)] = a.opclass
  AND b.coll[1:cardinality(a.cols)] = a.coll
GROUP BY a.schema, a.tbl, a.idx
ORDER BY a.schema, a.tbl, a.idx
"""


def test_no_index_is_a_leading_prefix_of_another_on_the_same_table() -> None:
    # given the migrated public schema and the partner template schema
    schemas = ["public", settings.TENANT_BASE_SCHEMA]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = ANY(%s)", [schemas])
        assert cursor.fetchone() == (len(schemas),), f"expected the schemas {schemas}"

        # when their indexes are compared per table
        cursor.execute(REDUNDANT_INDEXES, [schemas])
        redundant = cursor.fetchall()

    # then none is served by another already (for a foreign key: db_index=False on
    # it, with a comment naming the index that serves it, and a migration that
    # drops the index alone: loyalty_kernel.migration_operations.DropColumnIndex)
    assert not redundant, "indexes another index on the same table already serves:\n" + (
        "\n".join(
            f"  {schema}.{table}: {index} (served by {covering})"
            for schema, table, index, covering in redundant
        )
    )
