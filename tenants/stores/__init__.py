"""A partner's stores and sales channels (tenant schema)."""
