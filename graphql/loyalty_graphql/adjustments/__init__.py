"""Points adjustments: a partner adds points to a member or takes points back."""
