"""Partner tenants: the partner registry (public schema) and per-partner data apps."""
