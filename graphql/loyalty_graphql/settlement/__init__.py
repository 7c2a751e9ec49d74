"""Settlement: statements and the live position (partners); periods, liability
and payouts (operator)."""
