"""The base of every typed domain error.

Services raise subclasses with a stable ``code`` (what API clients branch on), an
optional ``field`` (which input was wrong) and a human ``message``. The GraphQL
layer turns them into ``errors { field code message }`` without knowing each one.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
