"""Daily figures per partner, kept up to date incrementally from the ledger.

Dashboards never scan the journal: a job folds new journal transactions (up to the
ledger's safe watermark, the same idea as settlement closes) into one row per
partner and day in the partner's time zone, and remembers each member's last
active day per partner, so "active members" needs no scan either. The rollup can
be rebuilt from scratch and gives identical figures; a test proves it against a
plain GROUP BY over the journal.
"""
