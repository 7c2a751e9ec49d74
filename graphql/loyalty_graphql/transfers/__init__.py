"""Transfers: members give points to each other and pool them in a household."""
