"""Reads of the partner registry."""

from __future__ import annotations

from django.db.models import QuerySet

from tenants.partners.models import Partner, PartnerStatus


def partners_active() -> QuerySet[Partner]:
    return Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("name")


def partner_by_slug(slug: str) -> Partner | None:
    return Partner.objects.filter(slug=slug).first()
