"""Joining and signing in to the member portal with only an e-mail address: a code
and a link by e-mail, single use, expiring, stored hashed, throttled, the tenth wrong
code locks; the same answer whether or not the address belongs to a member."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail
from django.db import connection
from django.http import HttpResponse
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext, override_settings

from coalition.member_auth.models import MemberSignInAttempt
from coalition.members.models import Member
from coalition.members.services import member_enrol
from loyalty_kernel import clock, jobs
from loyalty_web.portal.access import SESSION_MEMBER
from tests.testkit.portal import public_host

pytestmark = pytest.mark.django_db
LINK = "/portal/sign-in/link/?t="


def _email(prefix: str = "m") -> str:
    return f"{prefix}-{uuid4().hex[:10]}@example.com"


def _client() -> Client:
    return Client(HTTP_HOST=public_host())


def _post(client: Client, path: str, data: dict[str, str]) -> HttpResponse:
    """POST as the browser does, and run what the request enqueued after commit
    (the sign-in job) as the in-process worker does."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response: HttpResponse = client.post(path, data)
    return response


def _ask(client: Client, email: str, next_url: str = "") -> str:
    """Ask for a code; return the page the answer leads to."""
    data = {"email": email, **({"next": next_url} if next_url else {})}
    response = _post(client, "/portal/sign-in/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return str(response["Location"])


def _code_and_link() -> tuple[str, str]:
    body = mail.outbox[-1].body
    code = re.search(r"\b(\d{6})\b", body)
    link = re.search(r"(http\S+/portal/sign-in/link/\?t=\S+)", body)
    assert code
    assert link
    return code.group(1), link.group(1)


def test_joining_with_only_an_e_mail_enrols_and_e_mails_a_code() -> None:
    client = _client()
    page = client.get("/portal/join/").content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key
    email = _email("join")
    data = {"email": email, "idempotency_key": key.group(1)}
    # a double submit enrols once
    assert _post(client, "/portal/join/", data)["Location"] == "/portal/sign-in/code/"
    assert _post(client, "/portal/join/", data)["Location"] == "/portal/sign-in/code/"
    member = Member.objects.get(email=email)
    assert Member.objects.filter(email=email).count() == 1
    assert member.marketing_email_consent is False  # unticked unless chosen
    code, _link = _code_and_link()
    response = client.post("/portal/sign-in/code/", {"code": code})
    assert response["Location"] == "/portal/"
    assert member.member_number in client.get("/portal/").content.decode()


def test_joining_with_an_enrolled_address_answers_the_same_and_sends_a_sign_in() -> None:
    email = _email("known")
    member_enrol(email=email)
    client = _client()
    page = client.get("/portal/join/").content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key
    response = _post(client, "/portal/join/", {"email": email, "idempotency_key": key.group(1)})
    assert response["Location"] == "/portal/sign-in/code/"
    assert mail.outbox[-1].to == [email]
    assert Member.objects.filter(email=email).count() == 1


def test_a_code_works_once_and_is_stored_hashed() -> None:
    email = _email()
    member = member_enrol(email=email)
    client = _client()
    assert _ask(client, email, "/portal/?tab=1") == "/portal/sign-in/code/"
    code, _link = _code_and_link()
    attempt = MemberSignInAttempt.objects.get(email=email)
    assert code not in attempt.code_hash
    response = client.post("/portal/sign-in/code/", {"code": code})
    assert response["Location"] == "/portal/?tab=1"
    assert client.session[SESSION_MEMBER] == member.pk
    # a second use, on another device, is refused
    other = _client()
    session = other.session
    session["portal_sign_in"] = {"email": email, "next": "/portal/"}
    session.save()
    again = other.post("/portal/sign-in/code/", {"code": code})
    assert again.status_code == 400
    assert "wrong or has expired" in again.content.decode()


def test_a_code_does_not_work_after_it_expires() -> None:
    email = _email()
    member_enrol(email=email)
    client = _client()
    _ask(client, email)
    code, _link = _code_and_link()
    MemberSignInAttempt.objects.filter(email=email).update(
        expires_at=clock.now() - timedelta(seconds=1)
    )
    response = client.post("/portal/sign-in/code/", {"code": code})
    assert response.status_code == 400
    assert SESSION_MEMBER not in client.session


def test_the_tenth_wrong_code_locks_the_attempt() -> None:
    email = _email()
    member_enrol(email=email)
    client = _client()
    _ask(client, email)
    code, _link = _code_and_link()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(9):
        page = client.post("/portal/sign-in/code/", {"code": wrong}).content.decode()
        assert "wrong or has expired" in page
    tenth = client.post("/portal/sign-in/code/", {"code": wrong}).content.decode()
    assert "Too many wrong codes" in tenth
    # the right code no longer works either, nor does the link
    right = client.post("/portal/sign-in/code/", {"code": code})
    assert "Too many wrong codes" in right.content.decode()
    assert SESSION_MEMBER not in client.session
    assert MemberSignInAttempt.objects.get(email=email).wrong_codes == 10


def test_unknown_and_known_addresses_get_the_same_answer() -> None:
    known = _email("known")
    member_enrol(email=known)
    unknown = _email("unknown")
    answers = []
    for email in (known, unknown):
        client = _client()
        location = _ask(client, email)
        page = client.get(location).content.decode().replace(email, "EMAIL")
        answers.append((location, page.split("csrfmiddlewaretoken")[0]))
    assert answers[0] == answers[1]
    assert [message.to for message in mail.outbox] == [[known]]  # nothing to strangers
    # and no code opens a session for an unknown address
    client = _client()
    _ask(client, _email("stranger"))
    for code in ("000000", "123456"):
        assert client.post("/portal/sign-in/code/", {"code": code}).status_code == 400


def _headers(response: HttpResponse) -> dict[str, str]:
    # A cookie's value (the session) is each visitor's own; its name and flags are not.
    cookies = {
        name: sorted(key for key, value in morsel.items() if value)
        for name, morsel in response.cookies.items()
    }
    return {**dict(response.headers.items()), "cookies": str(cookies)}


def test_a_known_and_an_unknown_address_get_the_same_response_work_and_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: an enrolled and an unknown address, and a broker that records
    known = _email("known")
    member_enrol(email=known)
    unknown = _email("unknown")
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(task: Any, *args: Any) -> bool:
        sent.append((task.name, args))
        return True

    monkeypatch.setattr(jobs, "send_now", record)

    # when: each asks for a code from a fresh browser
    seen = []
    for email in (known, unknown):
        client = _client()
        with (
            TestCase.captureOnCommitCallbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            response = client.post("/portal/sign-in/", {"email": email})
        seen.append((response, len(queries)))

    # then: the same status, body and headers, the same number of statements
    (known_answer, known_count), (unknown_answer, unknown_count) = seen
    assert known_answer.status_code == unknown_answer.status_code == 302
    assert known_answer.content == unknown_answer.content
    assert _headers(known_answer) == _headers(unknown_answer)
    assert known_count == unknown_count
    # and: one job each, the same one, naming the attempt (never the member)
    attempts = MemberSignInAttempt.objects.filter(email__in=[known, unknown]).order_by("pk")
    assert sent == [
        ("member_auth.send_sign_in_code", (attempt.pk, f"http://{public_host()}{LINK}"))
        for attempt in attempts
    ]
    assert [attempt.member_id for attempt in attempts] == [None, None]  # the job decides
    assert mail.outbox == []


@override_settings(LOYALTY_MEMBER_SIGN_IN_PER_ADDRESS=2)
def test_requests_are_throttled_per_address_with_the_time_to_wait() -> None:
    email = _email()
    member_enrol(email=email)
    client = _client()
    _ask(client, email)
    _ask(client, email)
    response = _post(client, "/portal/sign-in/", {"email": email})
    assert response.status_code == 400
    assert "Try again in 10 minute(s)" in response.content.decode()
    assert len(mail.outbox) == 2


@override_settings(LOYALTY_MEMBER_SIGN_IN_PER_IP=2)
def test_requests_are_throttled_per_network_address() -> None:
    client = _client()
    _ask(client, _email())
    _ask(client, _email())
    response = client.post("/portal/sign-in/", {"email": _email()})
    assert response.status_code == 400
    assert "Too many sign-in requests" in response.content.decode()


def test_the_link_shows_a_button_and_only_the_post_signs_in() -> None:
    email = _email()
    member = member_enrol(email=email)
    _ask(_client(), email)
    _code, link = _code_and_link()
    browser = _client()
    path = link.split(public_host(), 1)[1].lstrip(":0123456789")
    token = path.split("?t=", 1)[1]
    # a mail scanner's GET, twice, consumes nothing
    assert browser.get(path).status_code == 200
    assert browser.get(path).status_code == 200
    assert SESSION_MEMBER not in browser.session
    response = browser.post("/portal/sign-in/link/", {"t": token})
    assert response["Location"] == "/portal/"
    assert browser.session[SESSION_MEMBER] == member.pk
    again = _client().post("/portal/sign-in/link/", {"t": token})
    assert again.status_code == 400


def test_portal_posts_need_the_csrf_token() -> None:
    strict = Client(HTTP_HOST=public_host(), enforce_csrf_checks=True)
    for path, data in (
        ("/portal/sign-in/", {"email": _email()}),
        ("/portal/join/", {"email": _email(), "idempotency_key": "k"}),
        ("/portal/sign-in/code/", {"code": "123456"}),
        ("/portal/sign-in/link/", {"t": "x"}),
    ):
        assert strict.post(path, data).status_code == 403, path
    assert MemberSignInAttempt.objects.count() == 0


def test_sign_out_everywhere_ends_every_device() -> None:
    email = _email()
    member_enrol(email=email)
    phone, laptop = _client(), _client()
    for client in (phone, laptop):
        _ask(client, email)
        code, _link = _code_and_link()
        client.post("/portal/sign-in/code/", {"code": code})
        assert client.get("/portal/").status_code == 200
    assert phone.post("/portal/sign-out/everywhere/")["Location"] == "/portal/sign-in/"
    assert laptop.get("/portal/").status_code == 302


def test_the_code_page_without_asking_first_goes_back_to_sign_in() -> None:
    assert _client().get("/portal/sign-in/code/")["Location"] == "/portal/sign-in/"
