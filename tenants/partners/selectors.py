"""Reads of the partner registry."""

from __future__ import annotations

from django.db.models import QuerySet

from loyalty_platform import driver_sql
from tenants.partners.models import Partner, PartnerStatus


def partners_active() -> QuerySet[Partner]:
    return Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name")


def partner_by_slug(slug: str) -> Partner | None:
    return Partner.objects.filter(slug=slug).first()


_BY_HOST_SQL: str | None = None


def _by_host_sql() -> str:
    global _BY_HOST_SQL
    if _BY_HOST_SQL is None:
        columns = ", ".join(f'p."{field.column}"' for field in Partner._meta.concrete_fields)
        _BY_HOST_SQL = (
            f"SELECT {columns} FROM public.partners_partner p"  # noqa: S608 - model columns
            " JOIN public.partners_domain d ON d.tenant_id = p.id WHERE d.domain = %s"
        )
    return _BY_HOST_SQL


def partner_by_host(hostname: str) -> Partner | None:
    """The partner whose site answers on ``hostname``: every partner request's
    first statement, so it runs on the driver connection (see driver_sql)."""
    row = driver_sql.prepared(_by_host_sql(), [hostname])
    if row is None:
        return None
    names = [field.attname for field in Partner._meta.concrete_fields]
    return Partner.from_db("default", names, list(row))
