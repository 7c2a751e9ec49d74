"""API keys as a domain of their own: the move from the API package kept every
key working, creation is idempotent for a double submit, revocation is audited
and happens once, and bad input is a typed error that creates nothing."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from coalition.api_keys import selectors, services
from coalition.api_keys.errors import InvalidApiKeyName, InvalidScopes, UnknownApiKey
from coalition.api_keys.models import PARTNER_SCOPES, SCOPES, ApiKey
from coalition.audit.models import AuditEntry
from loyalty_kernel.idempotency import IdempotencyKey, IdempotencyKeyReused
from tenants.partners.models import Partner
from tests.testkit import api as s


def _owner() -> object:
    return get_user_model().objects.create_user(
        username="owner@alpha.test", email="owner@alpha.test"
    )


def test_a_key_stored_before_the_move_still_authenticates(db: None, partner_a: Partner) -> None:
    # given: a key row written the way the previous release wrote it (raw SQL into
    # the table it created, without the columns added since)
    secret = "s" * 43
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.loyalty_graphql_apikey"
            " (partner_id, name, prefix, key_hash, scopes, created_at)"
            " VALUES (%s, 'old till', 'abcdef012345', %s, '[\"read\"]'::jsonb, now())",
            [partner_a.pk, hashlib.sha256(secret.encode()).hexdigest()],
        )
    # when: an app calls the API with it
    reply = s.gql(s.HOST_A, s.REWARDS_QUERY, None, f"lk_abcdef012345_{secret}")
    # then: it is accepted, its use is recorded, and the domain model reads the row
    assert reply.status == 200, reply.body
    key = ApiKey.objects.get(prefix="abcdef012345")
    assert key.last_used_at is not None
    assert [k.name for k in selectors.api_keys_of_partner(partner_id=partner_a.pk)] == ["old till"]


def test_the_model_keeps_its_table() -> None:
    assert ApiKey._meta.db_table == "loyalty_graphql_apikey"
    assert "operator" in SCOPES
    assert "operator" not in PARTNER_SCOPES


def test_a_double_submit_creates_one_key_and_shows_the_secret_once(
    db: None, partner_a: Partner
) -> None:
    # given: a form's idempotency key
    owner = _owner()
    idem = IdempotencyKey("staff:1", "form-1")
    # when: the same creation arrives twice
    first, text = services.api_key_create(
        name=" Web shop ", scopes=["read", "earn"], partner=partner_a, idempotency=idem, actor=owner
    )
    again, text_again = services.api_key_create(
        name="Web shop", scopes=["earn", "read"], partner=partner_a, idempotency=idem, actor=owner
    )
    # then: one key; the secret only to the first; one audit entry
    assert again.pk == first.pk
    assert first.name == "Web shop"
    assert text is not None
    assert text.startswith(f"lk_{first.prefix}_")
    assert text_again is None
    assert ApiKey.objects.filter(partner=partner_a).count() == 1
    assert AuditEntry.objects.filter(action="api_key.create", partner_id=partner_a.pk).count() == 1
    # and: the key works against the API
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, text).status == 200
    # and: the same form key with other scopes is refused and changes nothing
    with pytest.raises(IdempotencyKeyReused):
        services.api_key_create(
            name="Web shop", scopes=["read"], partner=partner_a, idempotency=idem, actor=owner
        )
    assert ApiKey.objects.filter(partner=partner_a).count() == 1


@pytest.mark.parametrize(
    ("name", "scopes", "error"),
    [
        ("", ["read"], InvalidApiKeyName),
        ("x" * 121, ["read"], InvalidApiKeyName),
        ("till", [], InvalidScopes),
        ("till", ["read", "everything"], InvalidScopes),
        ("till", ["operator"], InvalidScopes),
    ],
)
def test_bad_input_is_a_typed_error_and_creates_nothing(
    db: None, partner_a: Partner, name: str, scopes: list[str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        services.api_key_create(name=name, scopes=scopes, partner=partner_a, actor=_owner())
    assert not ApiKey.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="api_key.").exists()


def test_revoking_is_audited_once_and_the_key_is_refused(db: None, partner_a: Partner) -> None:
    # given: a working key
    owner = _owner()
    key, text = services.api_key_create(name="till", scopes=["read"], partner=partner_a)
    assert text is not None
    # when: it is revoked twice (a double click)
    services.api_key_revoke(key=key, actor=owner)
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at
    services.api_key_revoke(key=ApiKey.objects.get(pk=key.pk), actor=owner)
    # then: revoked once, one audit entry, the API refuses the key
    assert revoked_at is not None
    assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked_at
    entries = AuditEntry.objects.filter(action="api_key.revoke")
    assert entries.count() == 1
    assert entries.get().before["revoked_at"] is None
    assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, text).status == 401


def test_another_partners_key_is_not_found(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    key, _ = services.api_key_create(name="till", scopes=["read"], partner=partner_b)
    with pytest.raises(UnknownApiKey):
        selectors.api_key_of(partner_id=partner_a.pk, key_id=key.pk)
    assert selectors.api_keys_of_partner(partner_id=partner_a.pk) == []
