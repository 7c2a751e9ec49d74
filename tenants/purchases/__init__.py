"""Purchases and returns at a partner (tenant schema): receipts, their lines, the
points they earned (with the rule version and breakdown) and the reversals of
returned parts."""
