"""Every typed error has a code of its own, found without a hand-kept list."""

from __future__ import annotations

import pytest
from django.apps import apps

from loyalty_kernel.errors import DomainError, DuplicateErrorCode, error_classes


def _installed() -> list[str]:
    return [config.name for config in apps.get_app_configs()] + ["loyalty_graphql"]


def test_every_installed_apps_errors_are_discovered_with_unique_codes() -> None:
    # When the registry imports every installed app's errors module
    by_code = error_classes(_installed())
    # Then errors of apps no other module imported at start-up are there too
    assert by_code["unknown_charity"].__module__ == "coalition.charity.errors"
    assert by_code["invalid_store"].__module__ == "tenants.stores.errors"
    assert by_code["idempotency_key_reused"].__module__ == "loyalty_kernel.idempotency"
    # and no two classes share a code (the registry would have raised)
    assert len(set(by_code.values())) == len(by_code)


def test_two_classes_with_one_code_are_refused() -> None:
    # Given two unrelated classes claiming the same code, defined outside tests
    first = type("First", (DomainError,), {"code": "twice_claimed", "__module__": "demo.errors"})
    second = type("Second", (DomainError,), {"code": "twice_claimed", "__module__": "demo.errors"})
    try:
        # When the registry collects codes / Then it names both classes
        with pytest.raises(DuplicateErrorCode, match=r"First.*Second|Second.*First"):
            error_classes(_installed())
    finally:
        # Classes stay in __subclasses__ while referenced: drop them for later tests.
        del first, second
        import gc

        gc.collect()
