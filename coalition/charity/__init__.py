"""Charities of the coalition: members donate points to a charity's ledger account."""
