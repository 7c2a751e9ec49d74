"""Writes for a partner's stores; call inside the partner's schema."""

from __future__ import annotations

import zoneinfo

from tenants.stores.errors import InvalidStoreData
from tenants.stores.models import Store, StoreChannel


def store_create(
    *, code: str, name: str, channel: str = StoreChannel.POS, time_zone: str = "UTC", city: str = ""
) -> Store:
    if channel not in StoreChannel.values:
        raise InvalidStoreData(f"unknown channel {channel!r}", field="channel")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidStoreData(f"unknown time zone {time_zone!r}", field="time_zone") from None
    if Store.objects.filter(code=code).exists():
        raise InvalidStoreData(f"store code {code!r} is taken", field="code")
    return Store.objects.create(
        code=code, name=name, channel=channel, time_zone=time_zone, city=city
    )
