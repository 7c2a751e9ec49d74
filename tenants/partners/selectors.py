"""Reads of the partner registry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from loyalty_kernel import driver_sql
from tenants.partners.models import Partner, PartnerStatus


def partner_active_sql(alias: str) -> str:
    """SQL: the partner row ``alias`` is active (may issue and honour points). The
    SQL side of ``Partner.is_active``, for statements that read partners."""
    return f"{alias}.status = '{PartnerStatus.ACTIVE}'"


def partners_active() -> QuerySet[Partner]:
    return Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name")


def partner_by_slug(slug: str) -> Partner | None:
    return Partner.objects.filter(slug=slug).first()


# The partner behind a host name: the first statement of every partner request, so
# it runs on the driver connection (see driver_sql). Callers may join more to it
# (the API joins the caller's key: one statement for both).
PARTNER_COLUMNS = [field.attname for field in Partner._meta.concrete_fields]
PARTNER_BY_HOST_SQL = (
    "SELECT {columns}{more} FROM public.partners_partner p"
    " JOIN public.partners_domain d ON d.tenant_id = p.id{join} WHERE d.domain = %(host)s"
)
_PARTNER_SELECT = ", ".join(f'p."{field.column}"' for field in Partner._meta.concrete_fields)


def partner_by_host_sql(*, more: str = "", join: str = "") -> str:
    """The statement, with extra columns after the partner's and an extra join."""
    return PARTNER_BY_HOST_SQL.format(columns=_PARTNER_SELECT, more=more, join=join)


def partner_from_row(row: tuple[Any, ...]) -> Partner:
    return Partner.from_db("default", PARTNER_COLUMNS, list(row[: len(PARTNER_COLUMNS)]))


def partner_by_host(hostname: str) -> Partner | None:
    """The partner whose site answers on ``hostname`` (read fresh each time, so a
    suspension applies to the very next request)."""
    row = driver_sql.prepared(partner_by_host_sql(), {"host": hostname})
    return partner_from_row(row) if row is not None else None


def partner_names(ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """The name and slug of each partner in ``ids`` (whatever its status), one query."""
    return {
        pk: (name, slug)
        for pk, name, slug in Partner.objects.filter(pk__in=list(ids)).values_list(
            "pk", "name", "slug"
        )
    }
