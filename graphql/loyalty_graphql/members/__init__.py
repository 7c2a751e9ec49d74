"""Members: the member view (balance, tier, lots, history), lookups, enrolment, member tokens."""
