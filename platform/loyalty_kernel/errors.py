"""The base of every typed domain error, and the registry of their codes.

Services raise subclasses with a stable ``code`` (what API clients and pages
branch on), an optional ``field`` (which input was wrong) and a human
``message``. Each app keeps its errors in its own ``errors`` module; the
registry imports those modules for every installed app, so no list of error
modules is kept by hand, and it refuses two classes that share a code: a client
branching on a code must know which rule said no.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable


class DomainError(Exception):
    code = "error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class DuplicateErrorCode(RuntimeError):
    """Two error classes share a code: a programming mistake, found at start-up."""


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def discover_error_modules(packages: Iterable[str]) -> list[str]:
    """Import ``<package>.errors`` for each package that has one; return their names."""
    imported = []
    for package in packages:
        name = f"{package}.errors"
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            importlib.import_module(name)
            imported.append(name)
    return imported


def error_classes(packages: Iterable[str] = ()) -> dict[str, type[DomainError]]:
    """Every DomainError subclass by its code, after importing the packages'
    ``errors`` modules; raises ``DuplicateErrorCode`` when a code is taken twice."""
    discover_error_modules(packages)
    by_code: dict[str, type[DomainError]] = {DomainError.code: DomainError}
    for cls in _subclasses(DomainError):
        if cls.__module__.startswith(("tests.", "test_")):
            continue  # classes a test defines for itself
        code = cls.__dict__.get("code")
        if code is None:
            continue  # inherits its parent's code on purpose (an alias, not a new rule)
        other = by_code.get(code)
        if other is not None and other is not cls:
            raise DuplicateErrorCode(
                f"error code {code!r} is used by {other.__module__}.{other.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        by_code[code] = cls
    return by_code
