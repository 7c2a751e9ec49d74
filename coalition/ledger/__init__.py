"""The coalition's double-entry points ledger (public schema only).

Accounts, journal transactions and their entries, lots (which partner issued each
point and when it expires), holds, balance snapshots of hot accounts, and the
hash chain that makes tampering evident. Writes go through ``services``.
"""
