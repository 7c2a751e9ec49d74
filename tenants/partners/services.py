"""Writes of the partner registry: onboarding and the partner lifecycle.

Onboarding clones the migrated template schema (``TENANT_BASE_SCHEMA``) instead of
running every tenant migration, so creating a partner costs the same with 5 or
500 partners in the coalition.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.models import TenantMixin
from django_tenants.signals import post_schema_sync
from django_tenants.utils import schema_exists

from loyalty_platform.schemas import use_public_schema
from tenants.partners.currencies import is_known_currency
from tenants.partners.errors import (
    DomainTaken,
    InvalidPartnerData,
    InvalidStatusTransition,
    PartnerSlugTaken,
)
from tenants.partners.models import (
    SLUG_PATTERN,
    STATUS_TRANSITIONS,
    Domain,
    Partner,
    PartnerStatus,
    PartnerStatusChange,
)


def schema_name_for_slug(slug: str) -> str:
    return "partner_" + slug.replace("-", "_")


def default_domain_for_slug(slug: str) -> str:
    return f"{slug}.{settings.LOYALTY_BASE_DOMAIN}"


def template_schema_ensure(*, verbosity: int = 0) -> None:
    """Create and migrate the template schema new partners are cloned from.

    Run after the shared migrations and before the tenant ones, so a partner
    cloned later has every tenant migration applied (and recorded).
    """
    template = settings.TENANT_BASE_SCHEMA
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command(
        "migrate_schemas",
        tenant=True,
        schema_name=template,
        interactive=False,
        verbosity=verbosity,
    )
    use_public_schema()


def _validate_onboarding(
    *, name: str, slug: str, default_currency: str, time_zone: str, contact_email: str
) -> None:
    import re

    if not name.strip():
        raise InvalidPartnerData("a partner needs a name", field="name")
    if not re.match(SLUG_PATTERN, slug):
        raise InvalidPartnerData(
            "slug must be 3-42 lowercase letters, digits or hyphens, starting with a letter",
            field="slug",
        )
    if not is_known_currency(default_currency):
        raise InvalidPartnerData(
            f"{default_currency!r} is not a supported ISO 4217 currency", field="default_currency"
        )
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidPartnerData(f"unknown time zone {time_zone!r}", field="time_zone") from None
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise InvalidPartnerData(
                f"{contact_email!r} is not an e-mail address", field="contact_email"
            ) from None


def partner_onboard(
    *,
    name: str,
    slug: str,
    default_currency: str,
    time_zone: str = "UTC",
    contact_name: str = "",
    contact_email: str = "",
    domain: str | None = None,
    activate: bool = False,
    acting_user: Any = None,
) -> Partner:
    """Create a partner, its schema (cloned from the template) and its domain."""
    slug = slug.strip().lower()
    default_currency = default_currency.strip().upper()
    _validate_onboarding(
        name=name,
        slug=slug,
        default_currency=default_currency,
        time_zone=time_zone,
        contact_email=contact_email,
    )
    host = (domain or default_domain_for_slug(slug)).strip().lower()
    if host in settings.LOYALTY_PUBLIC_HOSTS:
        raise DomainTaken(f"{host} is the coalition's public host", field="domain")
    if Partner.objects.filter(slug=slug).exists():
        raise PartnerSlugTaken(f"a partner with slug {slug!r} exists already")
    if schema_exists(schema_name_for_slug(slug)):
        # A leftover schema (restored dump, manual work) would be silently adopted.
        raise PartnerSlugTaken(
            f"schema {schema_name_for_slug(slug)} exists already; drop it or choose another slug"
        )
    if Domain.objects.filter(domain=host).exists():
        raise DomainTaken(f"{host} already routes to another partner")

    use_public_schema()
    with transaction.atomic():
        partner = Partner(
            name=name.strip(),
            slug=slug,
            schema_name=schema_name_for_slug(slug),
            default_currency=default_currency,
            time_zone=time_zone,
            contact_name=contact_name,
            contact_email=contact_email,
        )
        # Row first, then the schema, both in this transaction: a failure rolls back
        # both. (TenantMixin.save() would create the schema itself and, on failure,
        # call delete(), which partners refuse: that would hide the real error.)
        partner.auto_create_schema = False
        partner.save(verbosity=0)
        partner.auto_create_schema = True
        partner.create_schema(verbosity=0)
        post_schema_sync.send(sender=TenantMixin, tenant=partner.serializable_fields())
        Domain.objects.create(domain=host, tenant=partner, is_primary=True)
        PartnerStatusChange.objects.create(
            partner=partner,
            from_status="",
            to_status=PartnerStatus.ONBOARDING,
            reason="onboarded",
            acting_user=acting_user,
        )
        if activate:
            partner = partner_change_status(
                partner=partner, to_status=PartnerStatus.ACTIVE, reason="activated at onboarding"
            )
    return partner


def partner_change_status(
    *, partner: Partner, to_status: str, reason: str = "", acting_user: Any = None
) -> Partner:
    """Move a partner along its lifecycle; every move is audited."""
    if to_status not in PartnerStatus.values:
        raise InvalidStatusTransition(f"unknown status {to_status!r}")
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if to_status not in STATUS_TRANSITIONS[locked.status]:
            raise InvalidStatusTransition(
                f"a partner cannot go from {locked.status} to {to_status}"
            )
        previous = locked.status
        locked.status = to_status
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_changed_at"])
        PartnerStatusChange.objects.create(
            partner=locked,
            from_status=previous,
            to_status=to_status,
            reason=reason,
            acting_user=acting_user,
        )
    return locked
