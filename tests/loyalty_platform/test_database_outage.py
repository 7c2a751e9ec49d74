"""A database outage reaches users as a 503, never as a server error or a lie.

The connection is pointed at a port nobody listens on (PostgreSQL down): the API
answers a JSON 503 with the typed code ``service_unavailable`` and a
``Retry-After`` header, on the public host and on a partner's host, for queries,
mutations and authenticated calls alike; pages answer a plain 503 page. Once the
database is back, the same requests succeed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from loyalty_graphql.auth import member_token_issue
from loyalty_platform.middleware import server_error_or_unavailable
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit import free_port


@pytest.fixture
def database_down(live_db: None) -> Iterator[None]:
    """The connection's next attempt to connect meets a closed port."""
    settings_dict: dict[str, Any] = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(free_port())
    try:
        yield
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved


def _post(host: str, query: str, token: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client(HTTP_HOST=host).post(
        "/graphql", json.dumps({"query": query}), content_type="application/json", **headers
    )


def _assert_typed_503(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["service_unavailable"]
    assert "data" not in body


@pytest.fixture
def member_token(live_db: None) -> str:
    return member_token_issue(s.enrol("outage").pk)


@pytest.fixture
def friend_number(live_db: None) -> str:
    return str(s.enrol("outage-friend").member_number)


@pytest.fixture
def partner_key(live_db: None, partner_a: Partner) -> str:
    return s.partner_key(partner_a, ["read", "earn"])


def test_the_public_api_answers_a_typed_503_while_the_database_is_down(
    member_token: str, database_down: None
) -> None:
    # when: an anonymous query, and a member's query, arrive during the outage
    anonymous = _post(s.PUBLIC_HOST, s.PARTNERS_QUERY)
    member = _post(s.PUBLIC_HOST, s.ME_QUERY, member_token)

    # then: both are typed 503s, with a time to retry after
    _assert_typed_503(anonymous)
    _assert_typed_503(member)


def test_a_mutation_during_the_outage_is_a_typed_503(
    member_token: str, friend_number: str, database_down: None
) -> None:
    # when: a member transfers points to a friend while the database is down
    reply = _post(
        s.PUBLIC_HOST,
        f'mutation {{ transferPoints(idempotencyKey: "t1", toMemberNumber: "{friend_number}", '
        "points: 5) { balanceAfter errors { code } } }",
        member_token,
    )

    # then: a 503 the app can retry with the same key (not a 200 with an internal error)
    _assert_typed_503(reply)


def test_a_partner_host_answers_a_typed_503_while_the_database_is_down(
    partner_key: str, database_down: None
) -> None:
    # when: the partner's app calls its host (the host itself is looked up in the database)
    reply = _post(s.HOST_A, s.REWARDS_QUERY, partner_key)

    # then: a typed 503, not Django's HTML 500 page
    _assert_typed_503(reply)


@pytest.mark.parametrize(("host", "path"), [(s.PUBLIC_HOST, "/"), (s.HOST_A, "/")])
def test_pages_answer_a_plain_503_page_while_the_database_is_down(
    database_down: None, host: str, path: str
) -> None:
    # when: a person opens a page during the outage
    response = Client(HTTP_HOST=host).get(path)

    # then: a plain 503 page saying to try again
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert b"Try again" in response.content


def test_the_requests_succeed_again_once_the_database_is_back(
    partner_key: str, live_db: None
) -> None:
    # given: the partner's host answered 503 during an outage
    settings_dict: dict[str, Any] = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(free_port())
    try:
        _assert_typed_503(_post(s.HOST_A, s.REWARDS_QUERY, partner_key))
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved

    # when: the same request is sent once the database is back
    reply = _post(s.HOST_A, s.REWARDS_QUERY, partner_key)

    # then: it succeeds
    assert reply.status_code == 200, reply.content
    assert "errors" not in reply.json()


@pytest.mark.parametrize(
    ("path", "content_type"), [("/graphql", "application/json"), ("/", "text/html")]
)
def test_an_outage_reaching_djangos_last_resort_is_still_a_503(
    path: str, content_type: str
) -> None:
    # given: an outage raised where no view or middleware handles it (Django then
    # calls handler500 from inside its exception handler)
    request = RequestFactory().get(path)
    try:
        raise OperationalError("connection to server failed")
    except OperationalError:
        # when: the last-resort handler answers
        response = server_error_or_unavailable(request)

    # then: a 503 of the kind the path's callers read
    assert response.status_code == 503
    assert response["Content-Type"].startswith(content_type)


def test_any_other_fault_reaching_djangos_last_resort_is_the_plain_500_page() -> None:
    request = RequestFactory().get("/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error_or_unavailable(request)
    assert response.status_code == 500
