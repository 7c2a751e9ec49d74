"""Member sign-in's background job, found here by the worker's task discovery."""

from __future__ import annotations

from coalition.member_auth.sign_in import send_sign_in_code

__all__ = ["send_sign_in_code"]  # declared with the sign-in service, which enqueues it
