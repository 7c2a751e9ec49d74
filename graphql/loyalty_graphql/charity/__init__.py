"""Charity: members donate points; the operator reads each charity's statements."""
