"""Reads of the expiry policy: the SQL that reads its table.

``expiry_policy_sql`` is the one definition of "the policy in force" (the first
row, or the defaults without one): the purchase's pricing snapshot embeds it, and
``expiry_policy`` runs it alone.
"""

from __future__ import annotations

import json
from typing import Any

from coalition.expiry.models import ExpiryPolicy
from loyalty_kernel import driver_sql


def expiry_policy_sql() -> str:
    """The policy row as JSON (the first one), NULL when none is set."""
    return """(SELECT row_to_json(e) FROM (
     SELECT id, mode, months, inactivity_months, reminder_days, inactivity_only_countries
       FROM public.expiry_expirypolicy ORDER BY id LIMIT 1) e)"""


def expiry_policy_from(value: Any) -> ExpiryPolicy:
    """The policy from ``expiry_policy_sql``'s value (None: no row, the defaults
    apply)."""
    values = json.loads(value) if isinstance(value, str) else value
    return ExpiryPolicy(**values) if values else ExpiryPolicy()


def expiry_policy() -> ExpiryPolicy:
    row = driver_sql.fetchone(f"SELECT {expiry_policy_sql()}")
    return expiry_policy_from(row[0] if row else None)
