"""The accounting rules, enforced by PostgreSQL itself (not only by Python):

- entries, transaction headers, lot movements and chain links are append-only;
- every journal transaction's entries sum to zero, checked when it commits.

A superuser can still disable these triggers; `loyalty verify-ledger` then finds
what was altered through the stored balances and the hash chain.
"""

from django.db import migrations

APPEND_ONLY_TABLES = (
    "ledger_entry",
    "ledger_transaction",
    "ledger_lotmovement",
    "ledger_chainlink",
)

FUNCTIONS = """
CREATE OR REPLACE FUNCTION public.ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % refused; post a reversing transaction instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE OR REPLACE FUNCTION public.ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT coalesce(sum(amount), 0) INTO total
      FROM public.ledger_entry WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: its entries sum to %',
            NEW.transaction_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = (
    "\n".join(
        f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON public.{table}
    FOR EACH ROW EXECUTE FUNCTION public.ledger_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON public.{table}
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
"""
        for table in APPEND_ONLY_TABLES
    )
    + """
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON public.ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION public.ledger_check_balanced();
"""
)

DROP = (
    "\n".join(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON public.{table};"
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON public.{table};"
        for table in APPEND_ONLY_TABLES
    )
    + """
DROP TRIGGER IF EXISTS ledger_entry_balanced ON public.ledger_entry;
DROP FUNCTION IF EXISTS public.ledger_check_balanced();
DROP FUNCTION IF EXISTS public.ledger_refuse_change();
"""
)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_initial")]

    operations = [migrations.RunSQL(FUNCTIONS + TRIGGERS, DROP)]
