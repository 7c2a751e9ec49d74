"""The one application clock.

Two clocks exist on purpose. The ledger and settlement stamp rows with the
database's ``now()`` (the transaction's start), so every row of one transaction
carries one instant and ordering never depends on a web node's clock; periods
close by ledger sequence watermark, not by either clock. Business decisions
taken in Python (is a campaign running, has a hold or a voucher expired, which
rule version is in force) read ``now()`` here, which is Django's timezone-aware
UTC clock; tests move it by passing ``now=`` to the service rather than sleeping.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return timezone.now()
