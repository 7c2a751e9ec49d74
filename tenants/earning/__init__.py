"""How a partner awards points: versioned earn rules, campaigns, member segments
and behavioural events (tenant schema). The points of a basket come from the pure
``engine``; ``services`` load the rules in force and post through the ledger."""
