"""Signals other layers listen to about members.

``member_erased`` is sent inside the erasure's transaction (``member_id``): a
layer above that keeps personal data of its own about the member (the API's
stored answers to enrolments) forgets it in the same transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

member_erased = Signal()
