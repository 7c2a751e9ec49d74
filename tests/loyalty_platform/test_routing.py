"""Requests are routed by host name: the public site, each partner's site, unknown hosts."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from loyalty_web.console.access import SESSION_PARTNER
from tenants.partners.models import Partner, PartnerStatus
from tenants.partners.services import partner_change_status, partner_onboard
from tenants.staff.services import staff_member_create
from tenants.stores.services import store_create
from tests.testkit import host_client, in_partner

pytestmark = pytest.mark.django_db


def _graphql(client: Client, query: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def _partner_with_status(slug: str, name: str, *moves: str) -> Partner:
    partner = partner_onboard(name=name, slug=slug, default_currency="USD")
    for to_status in moves:
        partner = partner_change_status(partner=partner, to_status=to_status)
    return partner


# --- public site ----------------------------------------------------------------------


def test_home_page_lists_active_partners_only(
    public_client: Client, partner_a: Partner, partner_b: Partner
) -> None:
    # given a suspended, an onboarding and an offboarded partner next to the active ones
    _partner_with_status("gamma", "Gamma Suspended", PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)
    _partner_with_status("delta", "Delta Onboarding")
    _partner_with_status("omega", "Omega Gone", PartnerStatus.OFFBOARDED)
    # when the coalition home page is fetched on the public host
    response = public_client.get("/")
    # then it lists the active partners with their currency and host, and no other
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Alpha Grocers", "alpha.localhost", "EUR", "Beta Airways", "beta.localhost"):
        assert text in page
    for text in ("Gamma Suspended", "Delta Onboarding", "Omega Gone"):
        assert text not in page


def test_home_page_queries_do_not_grow_with_the_number_of_partners(
    public_client: Client, partner_a: Partner, partner_b: Partner
) -> None:
    # given the home page's queries with the two session partners
    with CaptureQueriesContext(connection) as few:
        assert public_client.get("/").status_code == 200
    # when three more active partners join
    for slug in ("eta", "theta", "iota"):
        _partner_with_status(slug, f"{slug.title()} Shops", PartnerStatus.ACTIVE)
    with CaptureQueriesContext(connection) as more:
        response = public_client.get("/")
    # then the page shows them with the same queries: partners, then their domains
    # (django-tenants sets the search_path before each)
    assert "Iota Shops" in response.content.decode()
    assert _tables_read(few) == ["partners_partner", "partners_domain"]
    assert len(more) == len(few), [query["sql"] for query in more.captured_queries]


def _tables_read(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"].split(" FROM ", 1)[1].split()[0].strip('"')
        for query in queries.captured_queries
        if not query["sql"].startswith("SET search_path")
    ]


def test_member_portal_asks_visitors_to_sign_in(public_client: Client) -> None:
    response = public_client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/sign-in/?next=")


def test_loopback_address_serves_the_public_site(partner_a: Partner) -> None:
    response = host_client("127.0.0.1").get("/")
    assert response.status_code == 200
    assert "Alpha Grocers" in response.content.decode()


# --- partner sites --------------------------------------------------------------------


def test_partner_console_shows_its_own_name_and_stores_only(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given stores at both partners
    with in_partner(partner_a):
        store_create(code="A-MAIN", name="Alpha Main Street", city="Madrid")
    with in_partner(partner_b):
        store_create(code="B-GATE", name="Beta Gate 12", city="London")
    # when partner A's staff open the stores page of the console on A's host
    client = host_client("alpha.localhost")
    assert client.get("/stores/")["Location"].startswith("/login/")  # signed out: log in first
    owner = staff_member_create(
        partner_id=partner_a.pk,
        email=f"owner-{uuid4().hex[:8]}@example.com",
        password="correct horse battery 9",
        role="owner",
    )
    client.force_login(owner.user)
    session = client.session
    session[SESSION_PARTNER] = partner_a.pk
    session.save()
    response = client.get("/stores/")
    # then it shows partner A and its store, and nothing of partner B
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alpha Grocers" in page
    assert "merchant console" in page
    assert "Alpha Main Street" in page
    assert "Beta Airways" not in page
    assert "Beta Gate 12" not in page


def test_partner_host_does_not_serve_public_pages(partner_a: Partner) -> None:
    # the operator admin and the member portal live only on the public host
    client = host_client("alpha.localhost")
    assert client.get("/portal/").status_code == 404
    assert client.get("/admin/").status_code == 404


# --- unknown hosts --------------------------------------------------------------------


def test_unknown_host_gets_our_not_found_page(partner_a: Partner) -> None:
    # when a host that belongs to no partner is asked for a page
    response = host_client("nope.localhost").get("/")
    # then it gets a 404 saying so, pointing to the coalition's site
    assert response.status_code == 404
    page = response.content.decode()
    assert "No partner at nope.localhost" in page
    assert "localhost" in page
    assert "Traceback" not in page


@override_settings(DEBUG=False)
def test_unknown_host_gets_the_friendly_page_with_debug_off(partner_a: Partner) -> None:
    response = host_client("nope.localhost").get("/graphql")
    assert response.status_code == 404
    assert "No partner at nope.localhost" in response.content.decode()


def test_unknown_path_on_a_partner_host_is_a_plain_404(partner_a: Partner) -> None:
    response = host_client("alpha.localhost").get("/no-such-page")
    assert response.status_code == 404


# --- GraphQL --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost"])
def test_graphql_serves_graphiql_to_browsers(host: str, partner_a: Partner) -> None:
    # when a browser opens /graphql
    response = host_client(host).get("/graphql", HTTP_ACCEPT="text/html")
    # then it gets the GraphiQL page
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "graphiql" in response.content.decode().lower()


def test_coalition_graphql_lists_active_partners(
    public_client: Client, partner_a: Partner, partner_b: Partner
) -> None:
    _partner_with_status("gamma", "Gamma Suspended", PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED)
    data = _graphql(public_client, "{ partners { slug name defaultCurrency status } }")
    assert data["partners"] == [
        {"slug": "alpha", "name": "Alpha Grocers", "defaultCurrency": "EUR", "status": "active"},
        {"slug": "beta", "name": "Beta Airways", "defaultCurrency": "GBP", "status": "active"},
    ]


def test_partner_graphql_answers_for_the_partner_of_the_host(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a store at each partner
    with in_partner(partner_a):
        store_create(code="A-1", name="Alpha One")
    with in_partner(partner_b):
        store_create(code="B-1", name="Beta One")
    # when each partner's host is asked for its partner and stores
    query = "{ partner { slug name } stores { code name } }"
    alpha = _graphql(host_client("alpha.localhost"), query)
    beta = _graphql(host_client("beta.localhost"), query)
    # then each answers with itself and its own stores
    assert alpha == {
        "partner": {"slug": "alpha", "name": "Alpha Grocers"},
        "stores": [{"code": "A-1", "name": "Alpha One"}],
    }
    assert beta == {
        "partner": {"slug": "beta", "name": "Beta Airways"},
        "stores": [{"code": "B-1", "name": "Beta One"}],
    }


def test_the_two_graphql_schemas_stay_apart(public_client: Client, partner_a: Partner) -> None:
    # the public host has no `partner` field, a partner host no `partners` list
    public = public_client.post(
        "/graphql", data={"query": "{ partner { slug } }"}, content_type="application/json"
    )
    partner = host_client("alpha.localhost").post(
        "/graphql", data={"query": "{ partners { slug } }"}, content_type="application/json"
    )
    assert public.status_code == 400
    assert "partner" in public.json()["errors"][0]["message"]
    assert partner.status_code == 400
    assert "partners" in partner.json()["errors"][0]["message"]


# --- health check ---------------------------------------------------------------------


def test_healthz_reports_the_schema_of_the_host(public_client: Client, partner_a: Partner) -> None:
    assert public_client.get("/healthz").json() == {"status": "ok", "schema": "public"}
    assert host_client("alpha.localhost").get("/healthz").json() == {
        "status": "ok",
        "schema": partner_a.schema_name,
    }
