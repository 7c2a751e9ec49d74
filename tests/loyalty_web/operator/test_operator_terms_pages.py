"""The operator's settlement terms pages: a partner's page shows the terms in
force, its terms page every version with who set it and a CSV; new terms go
form -> preview (nothing written) -> confirmation (one version per double
submit, audited); each invalid field comes back next to its field; the
onboarding wizard's terms step follows the partner's creation and can be
skipped."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Partner
from tests.testkit.operator import login_as
from tests.testkit.settlement import close_everything_before, known_terms

pytestmark = pytest.mark.django_db

VALUES = {
    "issuance_price": "1.25",
    "reimbursement_rate": "0.75",
    "fee_percent": "2",
    "fee_fixed": "300",
    "breakage_share_percent": "20",
}


def _preview_fields(html: str) -> dict[str, str]:
    """The hidden fields of the preview's confirmation form."""
    import re

    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_the_partner_page_shows_the_terms_in_force_and_links_to_the_versions(
    partner_a: Partner,
) -> None:
    # given terms in force
    known_terms(partner_a, issuance_price="1.5", reimbursement_rate="0.7", fee_fixed=1234)
    client, _user = login_as("read_only", partner_a)
    # when read-only staff open the partner
    html = client.get(f"/operator/partners/{partner_a.slug}/").content.decode()
    # then they see its terms and the link to every version
    assert "In force since" in html
    assert "12.34 EUR" in html
    assert f'href="/operator/partners/{partner_a.slug}/terms/"' in html


def test_a_preview_writes_nothing_and_the_confirmation_sets_one_version_per_double_submit(
    partner_a: Partner,
) -> None:
    # given finance staff and a partner's terms in force
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    client, user = login_as("finance", partner_a)
    before = SettlementTerms.objects.filter(partner=partner_a).count()
    # when they fill in the form
    preview = client.post(f"/operator/partners/{partner_a.slug}/terms/new/", VALUES)
    # then they see the preview, and nothing is set yet
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "The last closed period under these terms" in html
    assert SettlementTerms.objects.filter(partner=partner_a).count() == before
    # when they confirm twice (a double submit)
    fields = _preview_fields(html)
    first = client.post(f"/operator/partners/{partner_a.slug}/terms/confirm/", fields)
    second = client.post(f"/operator/partners/{partner_a.slug}/terms/confirm/", fields)
    # then one version is set, audited once with who set it
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"/operator/partners/{partner_a.slug}/terms/"
    assert SettlementTerms.objects.filter(partner=partner_a).count() == before + 1
    latest = SettlementTerms.objects.filter(partner=partner_a).latest("effective_from")
    assert (latest.issuance_price, latest.fee_fixed) == (Decimal("1.25"), 300)
    entries = AuditEntry.objects.filter(action="settlement.terms_set", object_id=str(latest.pk))
    assert entries.count() == 1
    assert entries.get().actor_id == user.pk
    assert entries.get().before["issuance_price"] == "1.000000"
    # and the versions page and its CSV say who set it
    page = client.get(f"/operator/partners/{partner_a.slug}/terms/").content.decode()
    assert user.email in page
    assert "In force" in page
    csv = b"".join(
        client.get(f"/operator/partners/{partner_a.slug}/terms/?format=csv").streaming_content
    ).decode()
    lines = csv.splitlines()
    assert lines[0].startswith("effective_from,state,currency,issuance_price")
    assert any(user.email in line and ",in_force," in line for line in lines)


def test_the_preview_compares_the_last_closed_period(partner_a: Partner) -> None:
    # given a closed period in which the partner issued 1000 points at 1.0
    from coalition.ledger import services as ledger
    from tests.testkit.settlement import close_now, new_member

    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    close_everything_before()
    ledger.earn(member_id=new_member("terms-page"), partner_id=partner_a.pk, points=1000)
    close_now()
    client, _user = login_as("admin", partner_a)
    # when terms at 1.25 per point and 2 % are previewed
    html = client.post(f"/operator/partners/{partner_a.slug}/terms/new/", VALUES).content.decode()
    # then the period cost 10.00 and would have cost 12.50 + 0.25 fee (no fixed fee billed)
    assert 'id="net-now">10.00 EUR' in html
    assert 'id="net-proposed">12.75 EUR' in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("issuance_price", "-1", "prices and fees cannot be negative"),
        ("reimbursement_rate", "-0.5", "prices and fees cannot be negative"),
        ("fee_fixed", "-5", "prices and fees cannot be negative"),
        ("fee_percent", "120", "percentages are between 0 and 100"),
        ("breakage_share_percent", "-1", "percentages are between 0 and 100"),
        ("effective_on", "2001-01-01", "new terms take effect now or later"),
    ],
)
def test_each_invalid_field_is_shown_next_to_it_and_nothing_is_set(
    partner_a: Partner, field: str, value: str, message: str
) -> None:
    client, _user = login_as("admin", partner_a)
    before = SettlementTerms.objects.count(), AuditEntry.objects.count()
    response = client.post(
        f"/operator/partners/{partner_a.slug}/terms/new/", {**VALUES, field: value}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}-error"' in html
    assert message in html
    assert (SettlementTerms.objects.count(), AuditEntry.objects.count()) == before


def test_terms_before_the_version_in_force_are_refused_at_confirmation(
    partner_a: Partner,
) -> None:
    # given terms in force since an hour ago
    in_force = known_terms(partner_a, issuance_price="1", reimbursement_rate="1",
                           effective_from=timezone.now() - timedelta(minutes=30))  # fmt: skip
    client, _user = login_as("finance", partner_a)
    before = SettlementTerms.objects.count(), AuditEntry.objects.count()
    # when a confirmation names an instant before it
    response = client.post(
        f"/operator/partners/{partner_a.slug}/terms/confirm/",
        {"effective_from": (in_force.effective_from - timedelta(minutes=1)).isoformat(), **VALUES},
    )
    # then the form comes back with the error next to the date, and nothing is set
    assert response.status_code == 400
    assert "new terms must take effect after that" in response.content.decode()
    assert (SettlementTerms.objects.count(), AuditEntry.objects.count()) == before


def test_the_wizard_asks_for_terms_after_the_partner_and_can_skip_them(
    partner_a: Partner,
) -> None:
    client, _user = login_as("admin", partner_a)
    slug = f"terms-{uuid4().hex[:6]}"
    created = client.post("/operator/onboard/", {
        "name": "Terms Café", "slug": slug, "default_currency": "EUR",
        "time_zone": "Europe/Madrid", "contact_email": "cafe@example.com",
        "request_key": uuid4().hex,
    })  # fmt: skip
    assert created["Location"] == f"/operator/partners/{slug}/setup-terms/"
    step = client.get(created["Location"]).content.decode()
    assert "2. Settlement terms" in step
    assert "a settlement period with its events cannot close until it has terms" in step
    assert f'href="/operator/partners/{slug}/owner/">Skip for now' in step
    # set through the wizard: the confirmation goes on to the first owner
    fields = _preview_fields(
        client.post(f"/operator/partners/{slug}/setup-terms/", VALUES).content.decode()
    )
    assert fields["wizard"] == "True"
    done = client.post(f"/operator/partners/{slug}/terms/confirm/", fields)
    assert done["Location"] == f"/operator/partners/{slug}/owner/"
    assert SettlementTerms.objects.filter(partner__slug=slug).count() == 1


def test_the_versions_page_costs_the_same_queries_however_many_versions(
    partner_a: Partner, partner_b: Partner
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a partner with one version and another with six, each set by an operator
    client, user = login_as("admin", partner_a)
    for partner, versions in ((partner_a, 1), (partner_b, 6)):
        for days in range(versions):
            fields = {"effective_from": (timezone.now() + timedelta(days=days + 1)).isoformat(),
                      **VALUES}  # fmt: skip
            client.post(f"/operator/partners/{partner.slug}/terms/confirm/", fields)
        assert SettlementTerms.objects.filter(partner=partner).count() >= versions
    # when each versions page is opened
    counts = []
    for partner in (partner_a, partner_b):
        with CaptureQueriesContext(connection) as queries:
            html = client.get(f"/operator/partners/{partner.slug}/terms/").content.decode()
        assert html.count(user.email) >= (1 if partner == partner_a else 6)
        counts.append(len(queries))
    # then they cost the same
    assert counts[0] == counts[1]


def test_changing_the_previewed_terms_opens_the_form_filled_in(partner_a: Partner) -> None:
    client, _user = login_as("finance", partner_a)
    html = client.post(f"/operator/partners/{partner_a.slug}/terms/new/", VALUES).content.decode()
    import re

    link = re.search(r'href="(/operator/partners/[^"]+/terms/new/\?[^"]+)">Change them', html)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert 'name="issuance_price" value="1.25"' in form
    assert 'name="fee_fixed" value="300"' in form
