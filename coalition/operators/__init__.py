"""Operator staff: the people who run the coalition from the operator console on
the public host, each with one role (admin, finance, support, read-only)."""
