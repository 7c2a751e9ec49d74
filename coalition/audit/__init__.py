"""The audit log: who changed what, when, with the state before and after.

Every service that a person drives from a console or the portal records an entry
in the same transaction as its change, so an entry exists exactly when the
change does. Entries are append-only: PostgreSQL refuses to update or delete
them (a trigger), like the ledger's journal.
"""
