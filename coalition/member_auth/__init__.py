"""How members sign in to the member portal: their sessions' generation ("sign out
everywhere" bumps it, and every older session stops working)."""
