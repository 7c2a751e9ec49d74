"""Coalition-wide domain (public schema): members, the points ledger, settlement."""
