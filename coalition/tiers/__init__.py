"""Coalition-wide tiers: levels qualified on points earned (not balance) at every
partner over a qualification period; upgrade at once, downgrade only at the end
of the period after a grace period (public schema)."""
