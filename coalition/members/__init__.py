"""Coalition members: one identity per person across every partner (public schema)."""
