"""A partner's rewards catalogue, the vouchers members redeem points for, and
paying with points at the till (tenant schema)."""
