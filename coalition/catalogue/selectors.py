"""The coalition-wide catalogue for a member: every active partner's available
rewards that the partner offers in the catalogue (``in_catalogue``), filterable
and keyset-paginated by (points price, id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from coalition.catalogue.models import CatalogueEntry
from tenants.partners.models import PartnerStatus

MAX_PAGE = 100


@dataclass(frozen=True)
class CataloguePage:
    entries: list[CatalogueEntry]
    next_after: tuple[int, int] | None  # (points_price, id) to pass as ``after``


def catalogue_available(
    *,
    now: datetime | None = None,
    max_points: int | None = None,
    min_points: int | None = None,
    partner_ids: list[int] | None = None,
    channel: str | None = None,
    search: str | None = None,
    category: str | None = None,
) -> QuerySet[CatalogueEntry]:
    now = now or timezone.now()
    entries = CatalogueEntry.objects.filter(
        is_active=True, in_stock=True, in_catalogue=True, partner__status=PartnerStatus.ACTIVE
    ).filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
    entries = entries.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
    if max_points is not None:
        entries = entries.filter(points_price__lte=max_points)
    if min_points is not None:
        entries = entries.filter(points_price__gte=min_points)
    if partner_ids:
        entries = entries.filter(partner_id__in=partner_ids)
    if channel:
        entries = entries.filter(Q(channels=[]) | Q(channels__contains=[channel]))
    if search:
        entries = entries.filter(name__icontains=search)
    if category:
        entries = entries.filter(category__iexact=category.strip())
    return entries.select_related("partner").order_by("points_price", "id")


def catalogue_page(
    *, first: int = 20, after: tuple[int, int] | None = None, **filters: object
) -> CataloguePage:
    first = max(1, min(first, MAX_PAGE))
    entries = catalogue_available(**filters)  # type: ignore[arg-type]
    if after is not None:
        price, entry_id = after
        entries = entries.filter(Q(points_price__gt=price) | Q(points_price=price, id__gt=entry_id))
    rows = list(entries[: first + 1])
    page = rows[:first]
    next_after = (page[-1].points_price, page[-1].pk) if len(rows) > first else None
    return CataloguePage(page, next_after)


def catalogue_entry(entry_id: int, *, now: datetime | None = None) -> CatalogueEntry | None:
    """One reward of the catalogue, if it is available now."""
    return catalogue_available(now=now).filter(pk=entry_id).first()


def catalogue_partners() -> list[tuple[int, str]]:
    """(id, name) of the active partners with at least one available reward."""
    return list(
        catalogue_available()
        .order_by("partner__name", "partner_id")
        .values_list("partner_id", "partner__name")
        .distinct()
    )


def catalogue_categories() -> list[str]:
    """The categories of the rewards available now, lower-cased, once each, A to Z
    (partners type them; ``category`` filters match any case)."""
    return list(
        catalogue_available()
        .exclude(category="")
        .annotate(key=Lower(Trim("category")))
        .order_by("key")
        .values_list("key", flat=True)
        .distinct()
    )
