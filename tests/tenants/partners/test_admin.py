"""The operator admin's partner pages, as a superuser with Django's test client:
"Add partner" onboards through the service and shows its refusals next to the
fields; a status change goes through the lifecycle service and is audited."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tenants.partners.models import Domain, Partner, PartnerStatus, PartnerStatusChange
from tests.testkit import host_client, schema_exists

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/partners/partner/add/"


@pytest.fixture
def operator() -> Any:
    return get_user_model().objects.create_superuser(
        username="ops", email="ops@example.com", password="correct horse battery staple"
    )


@pytest.fixture
def admin_client(operator: Any) -> Client:
    client = host_client("localhost")
    client.force_login(operator)
    return client


def _onboarding(**overrides: str) -> dict[str, str]:
    fields = {
        "name": "Kappa Books",
        "slug": "kappa-books",
        "default_currency": "EUR",
        "time_zone": "Europe/Madrid",
        "contact_name": "Kim",
        "contact_email": "kim@kappa.example",
        "domain": "",
    }
    fields.update(overrides)
    return fields


def _change(partner: Partner, **overrides: str) -> dict[str, str]:
    """The partner's change form as a browser posts it, with no inline rows added."""
    fields = {
        "name": partner.name,
        "default_currency": partner.default_currency,
        "time_zone": partner.time_zone,
        "contact_name": partner.contact_name,
        "contact_email": partner.contact_email,
        "stripe_account_id": partner.stripe_account_id,
        "stripe_customer_id": partner.stripe_customer_id,
        "new_status": "",
        "status_reason": "",
    }
    for prefix, count in (("domains", partner.domains.count()), ("status_changes", 0)):
        fields |= {
            f"{prefix}-TOTAL_FORMS": str(count),
            f"{prefix}-INITIAL_FORMS": str(count),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    for index, domain in enumerate(partner.domains.order_by("pk")):
        fields |= {
            f"domains-{index}-id": str(domain.pk),
            f"domains-{index}-tenant": str(partner.pk),
            f"domains-{index}-domain": domain.domain,
            f"domains-{index}-is_primary": "on" if domain.is_primary else "",
        }
    status_changes = PartnerStatusChange.objects.filter(partner=partner).order_by(
        "-changed_at", "-id"
    )
    fields["status_changes-TOTAL_FORMS"] = str(status_changes.count())
    fields["status_changes-INITIAL_FORMS"] = str(status_changes.count())
    for index, change in enumerate(status_changes):
        fields[f"status_changes-{index}-id"] = str(change.pk)
        fields[f"status_changes-{index}-partner"] = str(partner.pk)
    fields.update(overrides)
    return fields


def test_the_add_partner_page_shows_the_onboarding_form(admin_client: Client) -> None:
    # when the operator opens "Add partner"
    response = admin_client.get(ADD_URL)

    # then the onboarding form is shown, not a server error
    assert response.status_code == 200
    page = response.content.decode()
    for label in ("Name", "Slug", "Default currency", "Time zone", "Host name", "Activate now"):
        assert f">{label}:</label>" in page, label
    assert 'value="Onboard partner"' in page


def test_add_partner_onboards_through_the_service(admin_client: Client, operator: Any) -> None:
    # when the operator submits the form
    response = admin_client.post(ADD_URL, _onboarding(activate="on"))

    # then the partner exists with its own schema, host and audited status, like
    # `loyalty create-partner` makes them, and the page moves to the new partner
    partner = Partner.objects.get(slug="kappa-books")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/partners/partner/{partner.pk}/change/"
    assert schema_exists("partner_kappa_books")
    assert Domain.objects.get(tenant=partner).domain == "kappa-books.localhost"
    assert partner.status == PartnerStatus.ACTIVE
    assert partner.time_zone == "Europe/Madrid"
    assert [
        (change.from_status, change.to_status, change.acting_user_id)
        for change in PartnerStatusChange.objects.filter(partner=partner).order_by("id")
    ] == [("", "onboarding", operator.pk), ("onboarding", "active", operator.pk)]
    followed = admin_client.get(response["Location"])
    assert "Kappa Books is onboarded (active)" in followed.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"slug": "Not A Slug"}, "slug", "slug must be 3-42 lowercase letters"),
        ({"slug": "alpha"}, "slug", "a partner with slug 'alpha' exists already"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone 'Mars/Olympus'"),
        ({"contact_email": "kim at kappa"}, "contact_email", "is not an e-mail address"),
        ({"domain": "alpha.localhost"}, "domain", "alpha.localhost already routes to"),
        ({"domain": "localhost"}, "domain", "localhost is the coalition's public host"),
        ({"name": ""}, "name", "This field is required"),
        ({"default_currency": ""}, "default_currency", "This field is required"),
    ],
)
def test_add_partner_shows_what_the_service_refused_next_to_the_field(
    admin_client: Client, partner_a: Partner, overrides: dict[str, str], field: str, message: str
) -> None:
    # given as many partners as before
    before = Partner.objects.count()

    # when the operator submits something onboarding refuses
    response = admin_client.post(ADD_URL, _onboarding(**overrides))

    # then the form comes back with the reason, in the summary and at the field
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "There is a problem" in page
    assert f'href="#id_{field}"' in page
    assert message in page
    form = response.context["form"]
    assert any(message in error for error in form.errors[field])
    # and nothing was created
    assert Partner.objects.count() == before
    assert not schema_exists("partner_kappa_books")


def test_the_partner_page_offers_only_the_allowed_status_moves(
    admin_client: Client, partner_a: Partner
) -> None:
    # when the operator opens an active partner's page
    response = admin_client.get(f"/admin/partners/partner/{partner_a.pk}/change/")

    # then the status can be moved to suspended or offboarded only
    assert response.status_code == 200
    choices = dict(response.context["adminform"].form.fields["new_status"].choices)
    assert set(choices) == {"", "suspended", "offboarded"}


def test_a_status_change_goes_through_the_lifecycle_service(
    admin_client: Client, operator: Any, partner_a: Partner
) -> None:
    # when the operator suspends an active partner, saying why
    response = admin_client.post(
        f"/admin/partners/partner/{partner_a.pk}/change/",
        _change(partner_a, new_status="suspended", status_reason="unpaid invoice"),
    )

    # then the partner is suspended and the move is audited with who and why
    assert response.status_code == 302, response.content.decode()[:3000]
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.SUSPENDED
    latest = PartnerStatusChange.objects.filter(partner=partner_a).order_by("-id").first()
    assert latest is not None
    assert (latest.from_status, latest.to_status, latest.reason, latest.acting_user_id) == (
        "active", "suspended", "unpaid invoice", operator.pk,
    )  # fmt: skip


def test_a_status_change_needs_a_reason(admin_client: Client, partner_a: Partner) -> None:
    # when the operator picks a new status without saying why
    response = admin_client.post(
        f"/admin/partners/partner/{partner_a.pk}/change/",
        _change(partner_a, new_status="offboarded"),
    )

    # then the page asks for the reason and the partner is unchanged
    assert response.status_code == 200
    assert "Enter why the partner" in response.content.decode()
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE


def test_a_move_the_lifecycle_forbids_is_refused(admin_client: Client, partner_a: Partner) -> None:
    # when a forged form asks for a move that is not offered (active -> onboarding)
    response = admin_client.post(
        f"/admin/partners/partner/{partner_a.pk}/change/",
        _change(partner_a, new_status="onboarding", status_reason="why not"),
    )

    # then the form refuses it and nothing changes
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    partner_a.refresh_from_db()
    assert partner_a.status == PartnerStatus.ACTIVE
