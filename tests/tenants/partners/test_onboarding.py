"""Onboarding partners, their lifecycle, offboarding, and the `create-partner` command."""

from __future__ import annotations

from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import ProtectedError

from tenants.partners.errors import (
    DomainTaken,
    InvalidPartnerData,
    InvalidStatusTransition,
    PartnerDeletionRefused,
    PartnerError,
    PartnerSlugTaken,
)
from tenants.partners.models import Domain, Partner, PartnerStatus, PartnerStatusChange
from tenants.partners.selectors import partners_active
from tenants.partners.services import partner_change_status, partner_onboard
from tenants.stores.models import Store
from tenants.stores.services import store_create
from tests.testkit import database_url_of, in_partner, schema_exists, tables_in_schema

pytestmark = pytest.mark.django_db


def _onboard(slug: str, **overrides: object) -> Partner:
    fields: dict[str, object] = {
        "name": f"{slug.title()} Ltd",
        "slug": slug,
        "default_currency": "EUR",
    }
    fields.update(overrides)
    return partner_onboard(**fields)


def _migrations_in(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())


def _audit(partner: Partner) -> list[tuple[str, str, str]]:
    changes = PartnerStatusChange.objects.filter(partner=partner).order_by("id")
    return [(change.from_status, change.to_status, change.reason) for change in changes]


# --- onboarding ---------------------------------------------------------------------


def test_onboarding_creates_a_schema_cloned_from_the_template_with_its_domain_and_audit() -> None:
    # when a partner is onboarded
    partner = partner_onboard(
        name="Gamma Fuel",
        slug="gamma-fuel",
        default_currency="usd",
        time_zone="America/New_York",
        contact_email="ops@gamma.example",
    )
    # then it has its own schema holding every tenant table of the template
    assert partner.schema_name == "partner_gamma_fuel"
    assert schema_exists(partner.schema_name)
    template_tables = tables_in_schema(settings.TENANT_BASE_SCHEMA)
    assert {"stores_store", "django_migrations"} <= template_tables
    assert tables_in_schema(partner.schema_name) == template_tables
    # and the same migration history as the template, so later migrations apply to it
    template_migrations = _migrations_in(settings.TENANT_BASE_SCHEMA)
    assert template_migrations
    assert _migrations_in(partner.schema_name) == template_migrations
    # and its normalised data, its domain and the onboarding audit row
    partner.refresh_from_db()
    assert (partner.status, partner.default_currency, partner.time_zone) == (
        PartnerStatus.ONBOARDING,
        "USD",
        "America/New_York",
    )
    assert list(Domain.objects.filter(tenant=partner).values_list("domain", "is_primary")) == [
        ("gamma-fuel.localhost", True)
    ]
    assert _audit(partner) == [("", PartnerStatus.ONBOARDING, "onboarded")]
    assert partner not in partners_active()


def test_onboarding_with_activate_makes_the_partner_active_and_audits_both_moves() -> None:
    # when a partner is onboarded and activated at once, on a domain of its own
    partner = _onboard("delta", domain="Rewards.Delta.Example", activate=True)
    # then it is active, routed by that domain, and both moves are on record
    assert partner.status == PartnerStatus.ACTIVE
    assert partner.get_primary_domain().domain == "rewards.delta.example"
    assert _audit(partner) == [
        ("", PartnerStatus.ONBOARDING, "onboarded"),
        (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, "activated at onboarding"),
    ]
    assert partner in partners_active()


def test_a_new_partner_schema_starts_empty_and_is_usable(partner_a: Partner) -> None:
    # given a store at another partner
    with in_partner(partner_a):
        store_create(code="A-1", name="Alpha One")
    # when a partner is onboarded
    partner = _onboard("epsilon")
    with in_partner(partner):
        # then its schema holds no stores (cloned from the empty template) and takes its own
        assert Store.objects.count() == 0
        store_create(code="E-1", name="Epsilon One")
        assert list(Store.objects.values_list("code", flat=True)) == ["E-1"]


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"slug": "x"}, InvalidPartnerData, "slug"),
        ({"slug": "9lives"}, InvalidPartnerData, "slug"),
        ({"slug": "under_score"}, InvalidPartnerData, "slug"),
        ({"slug": "trailing-"}, InvalidPartnerData, "slug"),
        ({"name": "   "}, InvalidPartnerData, "name"),
        ({"default_currency": "XYZ"}, InvalidPartnerData, "default_currency"),
        ({"default_currency": "EURO"}, InvalidPartnerData, "default_currency"),
        ({"time_zone": "Mars/Olympus_Mons"}, InvalidPartnerData, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, InvalidPartnerData, "time_zone"),
        ({"contact_email": "not-an-email"}, InvalidPartnerData, "contact_email"),
        ({"slug": "alpha"}, PartnerSlugTaken, "slug"),
        ({"slug": "Alpha "}, PartnerSlugTaken, "slug"),
        ({"domain": "alpha.localhost"}, DomainTaken, "domain"),
        ({"domain": "BETA.localhost"}, DomainTaken, "domain"),
        ({"domain": "localhost"}, DomainTaken, "domain"),
        ({"domain": "127.0.0.1"}, DomainTaken, "domain"),
    ],
)
def test_bad_onboarding_data_gives_a_typed_error_and_creates_nothing(
    partner_a: Partner,
    partner_b: Partner,
    overrides: dict[str, str],
    error: type[PartnerError],
    field: str,
) -> None:
    # given the coalition's partners, domains and schemas before the attempt
    partners_before = set(Partner.objects.values_list("slug", flat=True))
    domains_before = set(Domain.objects.values_list("domain", flat=True))
    fields = {"name": "Zeta Air", "slug": "zeta", "default_currency": "EUR", **overrides}
    # when onboarding is attempted with one bad value
    with pytest.raises(error) as raised:
        partner_onboard(**fields)
    # then the error says which field and has a code clients can branch on
    assert raised.value.field == field
    assert raised.value.code == error.code
    # and nothing was created: no partner row, no domain, no schema
    assert set(Partner.objects.values_list("slug", flat=True)) == partners_before
    assert set(Domain.objects.values_list("domain", flat=True)) == domains_before
    assert not schema_exists("partner_zeta")


def test_a_failure_after_the_schema_was_cloned_leaves_no_partner_and_no_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a failure while writing the domain, after row and schema were created
    # (as when another process takes the same host between the check and the insert)
    def domain_insert_fails(**kwargs: object) -> Domain:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(Domain.objects, "create", domain_insert_fails)
    # when a partner is onboarded
    with pytest.raises(IntegrityError):
        _onboard("eta")
    # then neither the partner row nor its schema remain
    assert not Partner.objects.filter(slug="eta").exists()
    assert not schema_exists("partner_eta")


def test_a_failure_while_cloning_the_schema_surfaces_that_failure() -> None:
    # given the template schema locked by another session (a migration running on it)
    # and a short lock timeout here
    with psycopg.connect(database_url_of(connection.settings_dict)) as other:
        template = settings.TENANT_BASE_SCHEMA
        other.execute(f'LOCK TABLE "{template}".stores_store IN ACCESS EXCLUSIVE MODE')
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        # when a partner is onboarded
        with pytest.raises(DatabaseError) as raised:
            _onboard("theta")
    # then the caller sees the real cause, not a refusal to delete the half-made partner
    assert "lock timeout" in str(raised.value)
    # and nothing remains
    assert not Partner.objects.filter(slug="theta").exists()
    assert not schema_exists("partner_theta")


def _structure(schema: str) -> dict[str, set[tuple[str, ...]]]:
    """Tables, named constraints with definitions, and named indexes of a schema,
    with the schema's own name taken out so two schemas can be compared."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT cl.relname, co.conname, co.contype,
                   replace(pg_get_constraintdef(co.oid), %s, '')
              FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
             WHERE cl.relnamespace = %s::regnamespace
            """,
            [f"{schema}.", schema],
        )
        constraints = {tuple(row) for row in cursor.fetchall()}
        cursor.execute(
            """
            SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes
             WHERE schemaname = %s
            """,
            [f"{schema}.", schema],
        )
        indexes = {tuple(row) for row in cursor.fetchall()}
        cursor.execute(
            """
            SELECT table_name, column_name, data_type, is_nullable, is_identity
              FROM information_schema.columns WHERE table_schema = %s
            """,
            [schema],
        )
        columns = {tuple(row) for row in cursor.fetchall()}
    return {"constraints": constraints, "indexes": indexes, "columns": columns}


def test_a_cloned_schema_has_the_template_structure_under_the_same_names() -> None:
    # Later migrations drop constraints and indexes by name, so a clone must keep
    # every name as well as every definition.
    # given a partner onboarded from the template
    _onboard("rho")
    # when its structure is compared with the template's
    clone, template = _structure("partner_rho"), _structure(settings.TENANT_BASE_SCHEMA)
    # then columns, constraints (keys, checks, foreign keys) and indexes all match
    assert clone == template
    # and foreign keys to coalition tables point at the public schema
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT confrelid::regclass::text FROM pg_constraint
             WHERE connamespace = 'partner_rho'::regnamespace AND contype = 'f'
            """
        )
        targets = {row[0] for row in cursor.fetchall()}
    assert "members_member" in targets  # resolved in public
    assert all(not target.startswith(settings.TENANT_BASE_SCHEMA) for target in targets)


def test_identity_sequences_of_a_clone_continue_after_copied_rows() -> None:
    # given a clone, whose migration records were copied from the template
    _onboard("sigma")
    with connection.cursor() as cursor:
        cursor.execute('SELECT max(id) FROM "partner_sigma".django_migrations')
        (highest,) = cursor.fetchone()
        # when a new migration record is written there
        cursor.execute(
            'INSERT INTO "partner_sigma".django_migrations (app, name, applied) '
            "VALUES ('stores', 'zz_probe', now()) RETURNING id"
        )
        (new_id,) = cursor.fetchone()
    # then it gets the next id instead of colliding with a copied one
    assert new_id == highest + 1


def test_onboarding_refuses_a_slug_whose_schema_exists_already() -> None:
    # given a schema of that name left over in the database (restored dump, manual work)
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "partner_iota"')
        cursor.execute('CREATE TABLE "partner_iota".leftover (id int)')
    # when a partner with that slug is onboarded
    with pytest.raises(PartnerSlugTaken) as raised:
        _onboard("iota")
    # then it is refused with a typed error, and the leftover schema is not adopted
    assert raised.value.field == "slug"
    assert not Partner.objects.filter(slug="iota").exists()
    assert tables_in_schema("partner_iota") == {"leftover"}


# --- lifecycle ----------------------------------------------------------------------


def test_partner_moves_through_its_lifecycle_and_every_move_is_audited() -> None:
    # given an operator and a partner being onboarded
    operator = get_user_model().objects.create_user("operator-1")
    partner = _onboard("kappa")
    # when it is activated, suspended, reactivated and offboarded
    moves = [
        (PartnerStatus.ACTIVE, "contract signed"),
        (PartnerStatus.SUSPENDED, "unpaid invoice"),
        (PartnerStatus.ACTIVE, "invoice paid"),
        (PartnerStatus.OFFBOARDED, "contract ended"),
    ]
    for to_status, reason in moves:
        before = partner.status_changed_at
        partner = partner_change_status(
            partner=partner, to_status=to_status, reason=reason, acting_user=operator
        )
        # then each move changes the status and its timestamp
        assert partner.status == to_status
        assert partner.status_changed_at >= before
    partner.refresh_from_db()
    assert partner.status == PartnerStatus.OFFBOARDED
    # and the audit trail tells who moved it, from what, to what, and why
    assert _audit(partner) == [
        ("", PartnerStatus.ONBOARDING, "onboarded"),
        (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE, "contract signed"),
        (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED, "unpaid invoice"),
        (PartnerStatus.SUSPENDED, PartnerStatus.ACTIVE, "invoice paid"),
        (PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED, "contract ended"),
    ]
    acting = PartnerStatusChange.objects.filter(partner=partner).exclude(reason="onboarded")
    assert {change.acting_user for change in acting} == {operator}


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], PartnerStatus.SUSPENDED),
        ([], PartnerStatus.ONBOARDING),
        ([PartnerStatus.ACTIVE], PartnerStatus.ONBOARDING),
        ([PartnerStatus.ACTIVE], PartnerStatus.ACTIVE),
        ([PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED], PartnerStatus.ONBOARDING),
        ([PartnerStatus.OFFBOARDED], PartnerStatus.ACTIVE),
        ([PartnerStatus.ACTIVE, PartnerStatus.OFFBOARDED], PartnerStatus.SUSPENDED),
        ([PartnerStatus.OFFBOARDED], PartnerStatus.OFFBOARDED),
        ([], "deleted"),
    ],
)
def test_a_refused_status_move_changes_nothing(path: list[str], refused: str) -> None:
    # given a partner brought to some status along allowed moves
    partner = _onboard("lambda")
    for to_status in path:
        partner = partner_change_status(partner=partner, to_status=to_status)
    status, audit = partner.status, _audit(partner)
    # when a move the lifecycle does not allow is asked for
    with pytest.raises(InvalidStatusTransition) as raised:
        partner_change_status(partner=partner, to_status=refused, reason="try")
    # then it is refused with a typed error and neither status nor audit change
    assert raised.value.code == "invalid_status_transition"
    assert raised.value.field == "status"
    partner.refresh_from_db()
    assert partner.status == status
    assert _audit(partner) == audit


def test_a_status_move_uses_the_stored_status_not_a_stale_copy() -> None:
    # given two copies of one partner, and the first one offboards it
    partner = _onboard("muon", activate=True)
    stale = Partner.objects.get(pk=partner.pk)
    partner_change_status(partner=partner, to_status=PartnerStatus.OFFBOARDED)
    # when the stale copy (still "active") asks to suspend it
    with pytest.raises(InvalidStatusTransition):
        partner_change_status(partner=stale, to_status=PartnerStatus.SUSPENDED)
    # then the partner stays offboarded
    assert Partner.objects.get(pk=partner.pk).status == PartnerStatus.OFFBOARDED


# --- offboarding and deletion -------------------------------------------------------


def test_offboarding_keeps_the_schema_and_its_data() -> None:
    # given an active partner with a store
    partner = _onboard("nuon", activate=True)
    with in_partner(partner):
        store_create(code="NU-1", name="Nuon Central")
    # when it is offboarded
    partner_change_status(partner=partner, to_status=PartnerStatus.OFFBOARDED, reason="left")
    # then it is no longer active, but its schema and its data stay
    assert partner not in partners_active()
    assert schema_exists(partner.schema_name)
    with in_partner(partner):
        assert list(Store.objects.values_list("code", "name")) == [("NU-1", "Nuon Central")]
    assert Domain.objects.filter(tenant=partner).exists()


def test_deleting_a_partner_is_refused_and_keeps_everything(partner_a: Partner) -> None:
    # when a partner is deleted
    with pytest.raises(PartnerDeletionRefused) as raised:
        partner_a.delete()
    # then it is refused with a typed error, and row, domain and schema all stay
    assert raised.value.code == "deletion_refused"
    assert Partner.objects.filter(pk=partner_a.pk).exists()
    assert Domain.objects.filter(tenant=partner_a).exists()
    assert schema_exists(partner_a.schema_name)


def test_bulk_deleting_partners_is_blocked_by_their_audit_trail(partner_a: Partner) -> None:
    # when partners are deleted in bulk (which bypasses Partner.delete())
    with pytest.raises(ProtectedError):
        Partner.objects.filter(pk=partner_a.pk).delete()
    # then the partner is still there
    assert Partner.objects.filter(pk=partner_a.pk).exists()


# --- the create-partner command -----------------------------------------------------


def test_create_partner_command_prints_the_schema_and_host() -> None:
    # when the operator runs `loyalty create-partner`
    out = StringIO()
    call_command(
        "create_partner", "omicron", "Omicron Books", "--currency", "GBP",
        "--time-zone", "Europe/London", "--contact-email", "hi@omicron.example",
        "--activate", stdout=out,
    )  # fmt: skip
    # then it reports the schema, the host and the status of the new partner
    printed = out.getvalue()
    assert "schema partner_omicron" in printed
    assert "host omicron.localhost" in printed
    assert "status active" in printed
    partner = Partner.objects.get(slug="omicron")
    assert (partner.name, partner.default_currency, partner.time_zone) == (
        "Omicron Books",
        "GBP",
        "Europe/London",
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--currency", "ABC"], "invalid_partner_data (default_currency)"),
        (["--currency", "EUR", "--time-zone", "Nowhere/Town"], "invalid_partner_data (time_zone)"),
        (["--currency", "EUR", "--domain", "beta.localhost"], "domain_taken (domain)"),
    ],
)
def test_create_partner_command_reports_a_bad_value_with_its_code(
    partner_a: Partner, partner_b: Partner, options: list[str], expected: str
) -> None:
    # when the command is given a bad value
    with pytest.raises(CommandError) as raised:
        call_command("create_partner", "pies", "Pie Shop", *options, stdout=StringIO())
    # then it fails with the error code and field, and creates nothing
    assert str(raised.value).startswith(expected), raised.value
    assert not Partner.objects.filter(slug="pies").exists()


def test_create_partner_command_refuses_a_taken_slug(partner_a: Partner) -> None:
    with pytest.raises(CommandError) as raised:
        call_command("create_partner", "alpha", "Alpha Again", "--currency", "EUR")
    assert str(raised.value).startswith("slug_taken (slug)"), raised.value
    assert Partner.objects.get(slug="alpha").name == "Alpha Grocers"
