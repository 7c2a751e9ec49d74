"""Typed errors of the stores app: each has a code unique across the platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class InvalidStoreData(DomainError):
    code = "invalid_store"


class UnknownStore(DomainError):
    code = "unknown_store"
    field = "code"
