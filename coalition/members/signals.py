"""Signals other layers listen to about members.

``member_erased`` is sent inside the erasure's transaction (``member_id``, and
``email``, the address the member had before erasure): a module that keeps
personal data of its own about the member (the API's stored answers to
enrolments, household memberships and the invitations sent to the address)
forgets it in the same transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

member_erased = Signal()
