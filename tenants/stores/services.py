"""Writes for a partner's stores; call inside the partner's schema.

A store's code is how tills and partner apps name it on every receipt, so it is
set once, when the store is created. Closing a store keeps its history (purchases
point at it) and takes it off the public store locator; reopening puts it back.
Every change by a person or an API key writes an audit row with before and after.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django.db import transaction

from coalition.audit.services import audit_record
from loyalty_kernel.tenancy import current_tenant
from tenants.stores.errors import InvalidStoreData, UnknownStore
from tenants.stores.models import Store, StoreChannel

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def store_state(store: Store) -> dict[str, Any]:
    """What the audit log shows of a store, before and after a change."""
    return {
        "code": store.code,
        "name": store.name,
        "channel": store.channel,
        "time_zone": store.time_zone,
        "city": store.city,
        "is_active": store.is_active,
    }


def _check(*, name: str, channel: str, time_zone: str, city: str) -> None:
    if not name.strip():
        raise InvalidStoreData("Enter the store's name", field="name")
    if len(name) > 200:
        raise InvalidStoreData("Enter a name of 200 characters or fewer", field="name")
    if channel not in StoreChannel.values:
        raise InvalidStoreData(f"unknown channel {channel!r}", field="channel")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidStoreData(f"unknown time zone {time_zone!r}", field="time_zone") from None
    if len(city) > 120:
        raise InvalidStoreData("Enter a city of 120 characters or fewer", field="city")


def _audit(actor: Any, action: str, store: Store, before: dict[str, Any] | None) -> None:
    audit_record(
        actor=actor,
        partner_id=current_tenant().pk,
        action=action,
        target=("store", store.code),
        before=before,
        after=store_state(store),
    )


def store_create(
    *,
    code: str,
    name: str,
    channel: str = StoreChannel.POS,
    time_zone: str = "UTC",
    city: str = "",
    actor: Any = None,
) -> Store:
    if not CODE_PATTERN.match(code):
        raise InvalidStoreData(
            "Enter a code of 1 to 32 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit",
            field="code",
        )
    _check(name=name, channel=channel, time_zone=time_zone, city=city)
    with transaction.atomic():
        if Store.objects.filter(code=code).exists():
            raise InvalidStoreData(f"store code {code!r} is taken", field="code")
        store = Store.objects.create(
            code=code, name=name.strip(), channel=channel, time_zone=time_zone, city=city.strip()
        )
        _audit(actor, "store.create", store, None)
    return store


def _locked(code: str) -> Store:
    store = Store.objects.select_for_update().filter(code=code).first()
    if store is None:
        raise UnknownStore(f"no store has the code {code!r}")
    return store


def store_update(
    *,
    code: str,
    name: str | None = None,
    channel: str | None = None,
    time_zone: str | None = None,
    city: str | None = None,
    actor: Any = None,
) -> Store:
    """Change a store's name, channel, time zone or city (``None``: unchanged)."""
    with transaction.atomic():
        store = _locked(code)
        before = store_state(store)
        store.name = store.name if name is None else name.strip()
        store.channel = store.channel if channel is None else channel
        store.time_zone = store.time_zone if time_zone is None else time_zone
        store.city = store.city if city is None else city.strip()
        _check(name=store.name, channel=store.channel, time_zone=store.time_zone, city=store.city)
        if store_state(store) != before:
            store.save(update_fields=["name", "channel", "time_zone", "city"])
            _audit(actor, "store.update", store, before)
    return store


def _set_open(code: str, is_active: bool, actor: Any) -> Store:
    with transaction.atomic():
        store = _locked(code)
        if store.is_active != is_active:  # pressing twice changes nothing the second time
            before = store_state(store)
            store.is_active = is_active
            store.save(update_fields=["is_active"])
            _audit(actor, "store.reopen" if is_active else "store.close", store, before)
    return store


def store_close(*, code: str, actor: Any = None) -> Store:
    """Close a store: the store locator stops listing it; its history stays."""
    return _set_open(code, False, actor)


def store_reopen(*, code: str, actor: Any = None) -> Store:
    return _set_open(code, True, actor)
