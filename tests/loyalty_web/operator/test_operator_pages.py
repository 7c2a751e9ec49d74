"""The operator's partner pages: the list with its filters and CSV, a partner's
page with its status history, the onboarding wizard (one partner per double
submit, errors next to their fields, the first owner's invitation e-mailed, the
Stripe Connect step) and a lifecycle move with its reason."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from coalition.operators.models import OnboardingRequest
from tenants.partners.models import Partner, PartnerStatusChange
from tenants.staff.models import StaffInvitation
from tests.testkit.operator import login_as

pytestmark = pytest.mark.django_db


def _form(slug: str, **changes: str) -> dict[str, str]:
    return {
        "name": "Gamma Books",
        "slug": slug,
        "default_currency": "EUR",
        "time_zone": "Europe/Madrid",
        "contact_email": "books@example.com",
        "request_key": uuid4().hex,
        **changes,
    }


def test_the_list_filters_and_exports(partner_a: Partner, partner_b: Partner) -> None:
    client, _user = login_as("read_only", partner_a)
    html = client.get("/operator/partners/").content.decode()
    assert partner_a.name in html
    assert partner_b.name in html
    assert f"{partner_a.slug}.localhost" in html
    filtered = client.get("/operator/partners/?currency=gbp").content.decode()
    assert partner_b.name in filtered
    assert partner_a.name not in filtered
    by_text = client.get(f"/operator/partners/?q={partner_a.slug}").content.decode()
    assert partner_a.name in by_text
    assert partner_b.name not in by_text
    # read-only staff see no onboarding button
    assert "/operator/onboard/" not in html
    csv = b"".join(client.get("/operator/partners/?format=csv&currency=EUR").streaming_content)
    lines = csv.decode().splitlines()
    assert lines[0] == "name,slug,status,currency,time_zone,domain,created_at"
    assert any(line.startswith(f"{partner_a.name},{partner_a.slug},active,EUR,") for line in lines)
    assert not any(partner_b.slug in line for line in lines)


def test_keyset_pages_follow_each_other(partner_a: Partner) -> None:
    from loyalty_web.operator import partners

    client, _user = login_as("support", partner_a)
    first = client.get("/operator/partners/")
    assert first.status_code == 200
    # a cursor below every partner is an empty page, not an error
    assert "No partners here" in client.get("/operator/partners/?after=1").content.decode()
    assert partners.PAGE_SIZE == 25


def test_the_wizard_creates_one_partner_per_double_submit(partner_a: Partner) -> None:
    client, _user = login_as("admin", partner_a)
    slug = f"gamma-{uuid4().hex[:6]}"
    form = _form(slug)
    first = client.post("/operator/onboard/", form)
    second = client.post("/operator/onboard/", form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/operator/partners/{slug}/setup-terms/"
    assert Partner.objects.filter(slug=slug).count() == 1
    assert OnboardingRequest.objects.filter(partner__slug=slug).count() == 1
    # step 3 (the terms step is in test_operator_terms_pages): the first owner is
    # invited by e-mail to the partner's own host
    owner = client.post(f"/operator/partners/{slug}/owner/", {"email": "owner@example.com"})
    assert owner["Location"] == f"/operator/partners/{slug}/payouts/"
    invitation = StaffInvitation.objects.get(partner__slug=slug)
    assert (invitation.email, invitation.role) == ("owner@example.com", "owner")
    assert f"http://{slug}.localhost/invitations/" in mail.outbox[-1].body
    # step 3 shows the Stripe step; the partner's page shows its history
    assert "Stripe Connect" in client.get(f"/operator/partners/{slug}/payouts/").content.decode()
    page = client.get(f"/operator/partners/{slug}/").content.decode()
    assert "Onboarding" in page
    assert "onboarded" in page


def test_wizard_errors_show_next_to_their_fields(partner_a: Partner) -> None:
    client, _user = login_as("admin", partner_a)
    before = Partner.objects.count()
    taken = client.post("/operator/onboard/", _form(partner_a.slug))
    assert taken.status_code == 400
    html = taken.content.decode()
    assert 'id="id_slug-error"' in html
    assert "There is a problem" in html
    currency = client.post(
        "/operator/onboard/", _form(f"c-{uuid4().hex[:6]}", default_currency="XYZ")
    )
    assert 'id="id_default_currency-error"' in currency.content.decode()
    assert "not a supported ISO 4217 currency" in currency.content.decode()
    bad_slug = client.post("/operator/onboard/", _form("No Spaces"))
    assert 'id="id_slug-error"' in bad_slug.content.decode()
    assert Partner.objects.count() == before


def test_suspending_asks_for_a_reason_and_shows_in_the_history(partner_a: Partner) -> None:
    client, _user = login_as("admin", partner_a)
    slug = f"delta-{uuid4().hex[:6]}"
    client.post("/operator/onboard/", _form(slug))
    confirm = client.get(f"/operator/partners/{slug}/status/active/").content.decode()
    assert "Activate" in confirm
    missing = client.post(f"/operator/partners/{slug}/status/active/", {"reason": ""})
    assert missing.status_code == 400
    assert 'id="id_reason-error"' in missing.content.decode()
    client.post(f"/operator/partners/{slug}/status/active/", {"reason": "contract signed"})
    client.post(f"/operator/partners/{slug}/status/suspended/", {"reason": "card fraud check"})
    assert Partner.objects.get(slug=slug).status == "suspended"
    page = client.get(f"/operator/partners/{slug}/").content.decode()
    assert "card fraud check" in page
    assert "contract signed" in page
    # a move the lifecycle does not allow changes nothing
    client.post(f"/operator/partners/{slug}/status/offboarded/", {"reason": "left"})
    refused = client.post(f"/operator/partners/{slug}/status/suspended/", {"reason": "again"})
    assert refused.status_code == 400
    assert "cannot go from offboarded" in refused.content.decode()
    assert PartnerStatusChange.objects.filter(partner__slug=slug).count() == 4


def test_the_payouts_step_makes_one_connected_account(partner_a: Partner) -> None:
    from tests.testkit.settlement import running_stripe_fake

    client, _user = login_as("admin", partner_a)
    slug = f"pay-{uuid4().hex[:6]}"
    client.post("/operator/onboard/", _form(slug))
    with running_stripe_fake() as stripe:
        first = client.post(f"/operator/partners/{slug}/payouts/").content.decode()
        again = client.post(f"/operator/partners/{slug}/payouts/").content.decode()
        assert len(stripe.state.created("accounts")) == 1
    assert "Send this link to the partner" in first
    assert "Make a new link" in again
    assert Partner.objects.get(slug=slug).stripe_account_id.startswith("acct_")


def test_the_payouts_step_says_when_stripe_is_not_configured(
    partner_a: Partner, settings: Any
) -> None:
    settings.STRIPE_API_KEY = ""
    client, _user = login_as("admin", partner_a)
    slug = f"nopay-{uuid4().hex[:6]}"
    client.post("/operator/onboard/", _form(slug))
    html = client.post(f"/operator/partners/{slug}/payouts/").content.decode()
    assert "set STRIPE_API_KEY" in html
    assert Partner.objects.get(slug=slug).stripe_account_id == ""


def test_the_audit_log_shows_operator_and_partner_changes(partner_a: Partner) -> None:
    client, admin = login_as("admin", partner_a)
    slug = f"audit-{uuid4().hex[:6]}"
    client.post("/operator/onboard/", _form(slug))
    client.post(f"/operator/partners/{slug}/status/active/", {"reason": "audited move"})
    everywhere = client.get("/operator/audit/").content.decode()
    assert "partner.status" in everywhere
    assert "audited move" in everywhere
    assert admin.email in everywhere
    # the operator's own changes (operator staff) have no partner
    only_operator = client.get("/operator/audit/?where=coalition").content.decode()
    assert "partner.status" not in only_operator
    assert "operator.create" in only_operator
    # a partner's entries, as CSV
    csv = b"".join(
        client.get(f"/operator/audit/?where={slug}&format=csv").streaming_content
    ).decode()
    assert csv.splitlines()[0] == "at,partner,who,action,object,before,after"
    assert f",{slug},{admin.email},partner.status," in csv
    assert "operator.create" not in csv
