"""Member-to-member transfers and household pooling, with yearly caps per tier
and an audit trail (public schema). Points move through the ledger's transfer,
which keeps each point's issuer and expiry."""
