"""Writes of the partner registry: onboarding and the partner lifecycle.

Onboarding clones the migrated template schema (``TENANT_BASE_SCHEMA``) instead of
running every tenant migration, so creating a partner costs the same with 5 or
500 partners in the coalition.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
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

from loyalty_kernel.money import is_known_currency
from loyalty_kernel.tenancy import use_public_schema
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


@dataclass(frozen=True)
class SchemaBlueprint:
    """How to rebuild the template schema: its tables and, under their own names
    (later migrations drop them by name), its key constraints, indexes and
    foreign keys, with references written relative to the search path."""

    tables: tuple[str, ...]
    key_constraints: tuple[tuple[str, str, str], ...]  # table, name, definition
    indexes: tuple[str, ...]  # CREATE INDEX statements, table unqualified
    foreign_keys: tuple[tuple[str, str, str], ...]
    identity_columns: tuple[tuple[str, str], ...]  # table, column
    version: int


_blueprint: SchemaBlueprint | None = None


def _template_version(cursor: Any, template: str) -> int:
    cursor.execute(f'SELECT count(*) FROM "{template}".django_migrations')  # noqa: S608
    return int(cursor.fetchone()[0])


def template_blueprint() -> SchemaBlueprint:
    """Read the template's structure once per process (and again after migrations)."""
    global _blueprint
    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        version = _template_version(cursor, template)
        if _blueprint is not None and _blueprint.version == version:
            return _blueprint
        # Names of tables in the template and in public print unqualified.
        cursor.execute("SELECT set_config('search_path', %s, true)", [f'"{template}", public'])
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
            """,
            [template],
        )
        tables = tuple(row[0] for row in cursor.fetchall())
        cursor.execute(
            """
            SELECT cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid)
              FROM pg_constraint co
              JOIN pg_class cl ON cl.oid = co.conrelid
              JOIN pg_namespace n ON n.oid = cl.relnamespace
             WHERE n.nspname = %s AND co.contype IN ('p', 'u', 'x', 'f')
             ORDER BY co.contype <> 'p', cl.relname, co.conname
            """,
            [template],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid)
              FROM pg_index i
              JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = ic.relnamespace
             WHERE n.nspname = %s
               AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid)
             ORDER BY ic.relname
            """,
            [template],
        )
        qualified = f"ON {template}."
        indexes = tuple(row[0].replace(qualified, "ON ") for row in cursor.fetchall())
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = %s AND is_identity = 'YES'
            """,
            [template],
        )
        identity = tuple(cursor.fetchall())
        cursor.execute("SELECT set_config('search_path', %s, true)", ["public"])
    unqualify = f"{template}."
    _blueprint = SchemaBlueprint(
        tables=tables,
        key_constraints=tuple(
            (table, name, definition.replace(unqualify, ""))
            for table, name, kind, definition in constraints
            if kind != "f"
        ),
        indexes=indexes,
        foreign_keys=tuple(
            (table, name, definition.replace(unqualify, ""))
            for table, name, kind, definition in constraints
            if kind == "f"
        ),
        identity_columns=identity,
        version=version,
    )
    return _blueprint


def _schema_clone(partner: Partner) -> None:
    """Create the partner's schema as a copy of the migrated template, with its
    migration history, in the caller's transaction.

    Our own clone rather than django-tenants' ``clone_schema()``: that function's
    catalog queries grow with every schema in the database (4.4 s per partner once
    200 existed). This one reads the template's structure once per process and
    replays it: tables LIKE the template's, then keys, indexes and foreign keys
    under their original names, then the template's rows (its migration records),
    so its cost does not depend on how many partners exist.
    """
    template = settings.TENANT_BASE_SCHEMA
    if not schema_exists(template):
        partner.create_schema(verbosity=0)  # no template: runs every tenant migration
        return
    blueprint = template_blueprint()
    schema = partner.schema_name
    # Unqualified names in the replayed definitions mean the new schema first,
    # then public (coalition tables). Sent as one batch: one round trip.
    statements = [
        f'CREATE SCHEMA "{schema}"',
        f"SELECT set_config('search_path', '\"{schema}\", public', true)",
    ]
    statements += [
        f'CREATE TABLE "{schema}"."{table}" (LIKE "{template}"."{table}" '
        "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
        "INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
        for table in blueprint.tables
    ]
    statements += [
        f'ALTER TABLE "{schema}"."{table}" ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in blueprint.key_constraints
    ]
    statements += list(blueprint.indexes)
    statements += [
        f'ALTER TABLE "{schema}"."{table}" ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in blueprint.foreign_keys
    ]
    statements += [
        f'INSERT INTO "{schema}"."{table}" SELECT * FROM "{template}"."{table}"'  # noqa: S608
        for table in blueprint.tables
    ]
    for table, column in blueprint.identity_columns:
        sequence = f"pg_get_serial_sequence('\"{schema}\".\"{table}\"', '{column}')"
        highest = f'SELECT max("{column}") FROM "{schema}"."{table}"'  # noqa: S608
        statements.append(f"SELECT setval({sequence}, coalesce(({highest}), 0) + 1, false)")
    with connection.cursor() as cursor:
        cursor.execute(";\n".join(statements))
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
        _schema_clone(partner)
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
                partner=partner,
                to_status=PartnerStatus.ACTIVE,
                reason="activated at onboarding",
                acting_user=acting_user,
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
