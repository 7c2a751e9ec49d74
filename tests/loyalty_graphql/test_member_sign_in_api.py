"""Member apps sign in over the coalition API with the portal's e-mailed code:
``startMemberSignIn`` answers a challenge (the same for an unknown address),
``completeMemberSignIn`` gives a member token that then works on ``me``. A code
works once and not after expiry, the tenth wrong code locks the attempt,
requests are throttled per address and per network, a repeated key replays."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext, override_settings

from coalition.member_auth.models import MemberSignInAttempt
from coalition.members.services import member_enrol
from loyalty_kernel import clock, jobs
from tests.testkit import api as s
from tests.testkit.api import Reply

pytestmark = pytest.mark.django_db(transaction=False)

START, COMPLETE = s.START_MEMBER_SIGN_IN, s.COMPLETE_MEMBER_SIGN_IN
ME = "{ me { memberNumber email } }"


def _start(email: str, key: str = "s1", token: str | None = None) -> dict[str, Any]:
    # The in-process worker runs the job the request enqueued after commit.
    with TestCase.captureOnCommitCallbacks(execute=True):
        reply = s.gql(s.PUBLIC_HOST, START, {"key": key, "email": email}, token)
    payload: dict[str, Any] = reply.payload("startMemberSignIn")
    return payload


def _complete(challenge: str, code: str, key: str = "c1") -> dict[str, Any]:
    variables = {"key": key, "challenge": challenge, "code": code}
    payload: dict[str, Any] = s.gql(s.PUBLIC_HOST, COMPLETE, variables).payload(
        "completeMemberSignIn"
    )
    return payload


def _codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


def _mailed_code() -> str:
    found = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert found
    return found.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_member_app_signs_in_with_the_e_mailed_code_and_the_token_works_on_me() -> None:
    # given: a member
    member = s.enrol("app-sign-in")

    # when: the app starts a sign-in and completes it with the e-mailed code
    started = _start(member.email.upper())
    assert started["errors"] == []
    assert mail.outbox[-1].to == [member.email]
    assert "/portal/sign-in/link/?t=" in mail.outbox[-1].body
    completed = _complete(started["challenge"], _mailed_code())

    # then: the token is a member token, and it reads the member's own account
    assert completed["errors"] == []
    token = completed["token"]
    assert token.startswith("mt_")
    me = s.gql(s.PUBLIC_HOST, ME, {}, token).payload("me")
    assert me == {"memberNumber": member.member_number, "email": member.email}


def test_a_code_works_once() -> None:
    # given: a completed sign-in
    member = s.enrol("once")
    challenge = _start(member.email)["challenge"]
    code = _mailed_code()
    assert _complete(challenge, code)["errors"] == []

    # when: the same code is sent again under another key
    again = _complete(challenge, code, key="c2")

    # then: it is refused with a typed error, and no token
    assert _codes(again) == ["INVALID_SIGN_IN_CODE"]
    assert again["errors"][0]["field"] == "code"
    assert again["token"] is None


def test_a_repeated_key_answers_the_same_challenge_and_token_and_acts_once() -> None:
    # given: a member
    member = s.enrol("replay")

    # when: the app retries its start and its completion with the same keys
    first = _start(member.email, key="k")
    second = _start(member.email, key="k")
    sent = len(mail.outbox)
    code = _mailed_code()
    token = _complete(first["challenge"], code, key="k")["token"]
    retried = _complete(first["challenge"], code, key="k")

    # then: one attempt, one e-mail, the same challenge and the same token
    assert first == second
    assert sent == 1
    assert MemberSignInAttempt.objects.filter(email=member.email).count() == 1
    assert retried == {"token": token, "errors": []}

    # and: the same key with another address or another code is refused
    other = _complete(first["challenge"], _wrong(code), key="k")
    assert _codes(other) == ["IDEMPOTENCY_KEY_REUSED"]


def test_an_unknown_address_gets_the_same_answer_and_no_e_mail() -> None:
    # given: an enrolled and an unknown address
    member = s.enrol("known")
    unknown = f"{s.unique('nobody')}@example.com"

    # when: the app starts a sign-in for each
    known_answer = _start(member.email)
    unknown_answer = _start(unknown)

    # then: the answers have the same shape and no error; only the member gets mail
    assert known_answer.keys() == unknown_answer.keys()
    assert known_answer["errors"] == unknown_answer["errors"] == []
    assert len(known_answer["challenge"]) == len(unknown_answer["challenge"])
    assert [message.to for message in mail.outbox] == [[member.email]]

    # and: no code completes the unknown address's challenge
    refused = _complete(unknown_answer["challenge"], "000000")
    assert _codes(refused) == ["INVALID_SIGN_IN_CODE"]


def test_a_code_does_not_work_after_it_expires() -> None:
    # given: a started sign-in whose time ran out
    member = s.enrol("expired")
    challenge = _start(member.email)["challenge"]
    MemberSignInAttempt.objects.filter(email=member.email).update(
        expires_at=clock.now() - timedelta(seconds=1)
    )

    # when / then: the right code is refused
    assert _codes(_complete(challenge, _mailed_code())) == ["INVALID_SIGN_IN_CODE"]


def test_the_tenth_wrong_code_locks_the_attempt() -> None:
    # given: a started sign-in
    member = s.enrol("lock")
    challenge = _start(member.email)["challenge"]
    code = _mailed_code()

    # when: nine wrong codes, then a tenth
    for attempt in range(9):
        answer = _complete(challenge, _wrong(code), key=f"w{attempt}")
        assert _codes(answer) == ["INVALID_SIGN_IN_CODE"]
    tenth = _complete(challenge, _wrong(code), key="w9")

    # then: the tenth locks it, and even the right code no longer works
    assert _codes(tenth) == ["SIGN_IN_LOCKED"]
    assert _codes(_complete(challenge, code, key="right")) == ["SIGN_IN_LOCKED"]
    assert MemberSignInAttempt.objects.get(email=member.email).used_at is None


def test_a_challenge_is_not_another_attempts() -> None:
    # given: two members who each started a sign-in
    alice, bob = s.enrol("alice"), s.enrol("bob")
    alices = _start(alice.email)["challenge"]
    alices_code = _mailed_code()
    _start(bob.email)

    # when: Bob's code is sent with Alice's challenge, or a made-up challenge
    bobs_code = _mailed_code()
    not_alices = bobs_code if bobs_code != alices_code else _wrong(alices_code)
    with_bobs = _complete(alices, not_alices)
    made_up = _complete("not-a-challenge", alices_code, key="c2")

    # then: neither signs anyone in
    assert _codes(with_bobs) == ["INVALID_SIGN_IN_CODE"]
    assert _codes(made_up) == ["INVALID_SIGN_IN_CODE"]


@override_settings(LOYALTY_MEMBER_SIGN_IN_PER_ADDRESS=2)
def test_starts_are_throttled_per_address_with_the_time_to_wait() -> None:
    # given: a member who asked twice
    member = s.enrol("throttle")
    assert _start(member.email, key="a")["errors"] == []
    assert _start(member.email, key="b")["errors"] == []

    # when: a third request for the address
    third = _start(member.email, key="c")

    # then: typed error on the e-mail field, no new attempt, no e-mail
    assert _codes(third) == ["SIGN_IN_THROTTLED"]
    assert third["errors"][0]["field"] == "email"
    assert "minute" in third["errors"][0]["message"]
    assert third["challenge"] is None
    assert MemberSignInAttempt.objects.filter(email=member.email).count() == 2
    assert len(mail.outbox) == 2

    # and: an unknown address is throttled the same way
    unknown = f"{s.unique('nobody')}@example.com"
    _start(unknown, key="a")
    _start(unknown, key="b")
    assert _codes(_start(unknown, key="c")) == ["SIGN_IN_THROTTLED"]


@override_settings(LOYALTY_MEMBER_SIGN_IN_PER_IP=2)
def test_starts_are_throttled_per_network_address() -> None:
    # given: two requests from this network for two addresses
    for name in ("one", "two"):
        assert _start(f"{s.unique(name)}@example.com")["errors"] == []

    # when / then: a third address from the same network is refused
    assert _codes(_start(f"{s.unique('three')}@example.com")) == ["SIGN_IN_THROTTLED"]


def test_a_member_app_with_a_token_may_sign_in_again() -> None:
    # given: a member with a token (a second device, or a token about to expire)
    member = s.enrol("again")
    from loyalty_graphql.auth import member_token_issue

    # when: the app starts and completes a sign-in carrying the old token
    started = _start(member.email, token=member_token_issue(member.pk))
    completed = _complete(started["challenge"], _mailed_code())

    # then: a new token for the same member
    assert completed["errors"] == []
    me = s.gql(s.PUBLIC_HOST, ME, {}, completed["token"]).payload("me")
    assert me["memberNumber"] == member.member_number


def _start_unrun(email: str, key: str = "s1") -> tuple[Reply, list[str], list[Any]]:
    """Start a sign-in; the reply, its statements and the after-commit callbacks it
    left (not yet run: the request alone is measured)."""
    with (
        TestCase.captureOnCommitCallbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        reply = s.gql(s.PUBLIC_HOST, START, {"key": key, "email": email})
    return reply, [query["sql"] for query in queries], callbacks


def _shapes(statements: list[str]) -> list[str]:
    """Each statement's verb and table, without the values (savepoint names too)."""
    return [re.sub(r"'[^']*'|\b\d+\b|_x\w+", "?", sql)[:60] for sql in statements]


def test_sign_in_costs_a_fixed_number_of_statements() -> None:
    # given: a member
    member = member_enrol(email=f"{s.unique('count')}@example.com")

    # when: the app starts and completes a sign-in
    _reply, started, callbacks = _start_unrun(member.email)
    for callback in callbacks:
        callback()
    challenge = _reply.payload("startMemberSignIn")["challenge"]
    with CaptureQueriesContext(connection) as completed:
        assert _complete(challenge, _mailed_code())["errors"] == []

    # then: a fixed number of statements each: the key's lock and stored answer,
    # the two throttle counts, the attempt (in its savepoint), the answer kept
    assert len(started) == 9, started
    assert len(completed) == 9, [q["sql"] for q in completed]


def test_a_known_and_an_unknown_address_cost_the_same_and_enqueue_the_same_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: an enrolled and an unknown address, and a broker that records
    member = s.enrol("same-work")
    unknown = f"{s.unique('nobody')}@example.com"
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(task: Any, *args: Any) -> bool:
        sent.append((task.name, args))
        return True

    monkeypatch.setattr(jobs, "send_now", record)

    # when: a sign-in is started for each, from the same network
    answers = []
    for email in (member.email, unknown):
        reply, statements, callbacks = _start_unrun(email)
        for callback in callbacks:
            callback()
        answers.append((reply, statements))

    # then: the same status, the same answer but for the random challenge
    (known, known_sql), (stranger, stranger_sql) = answers
    assert known.status == stranger.status == 200
    known_payload = known.payload("startMemberSignIn")
    stranger_payload = stranger.payload("startMemberSignIn")
    assert known_payload["errors"] == stranger_payload["errors"] == []
    assert len(known_payload["challenge"]) == len(stranger_payload["challenge"])
    # the same statements, one for one (the address and hashes aside), so the same work
    assert len(known_sql) == len(stranger_sql)
    assert _shapes(known_sql) == _shapes(stranger_sql)
    assert not any("members_member" in sql for sql in known_sql)  # the member is not looked up
    # and: one job each, the same one, naming only the attempt and the link
    assert [name for name, _args in sent] == ["member_auth.send_sign_in_code"] * 2
    attempts = MemberSignInAttempt.objects.filter(email__in=[member.email, unknown])
    assert sorted(args[0] for _name, args in sent) == sorted(attempt.pk for attempt in attempts)
    assert mail.outbox == []  # the recording broker ran nothing


def test_the_job_mails_the_member_and_nobody_else() -> None:
    # given: sign-ins started for an enrolled and an unknown address, jobs not yet run
    member = s.enrol("job")
    unknown = f"{s.unique('nobody')}@example.com"
    _known, _sql, known_jobs = _start_unrun(member.email)
    _stranger, _sql, stranger_jobs = _start_unrun(unknown)
    assert mail.outbox == []

    # when: the jobs run, the known one twice (a redelivery)
    for callback in [*known_jobs, *stranger_jobs, *known_jobs]:
        callback()

    # then: one e-mail, to the member, with the code that completes their challenge
    assert [message.to for message in mail.outbox] == [[member.email]]
    completed = _complete(_known.payload("startMemberSignIn")["challenge"], _mailed_code())
    assert completed["errors"] == []
    stranger = MemberSignInAttempt.objects.get(email=unknown)
    assert stranger.member_id is None


def test_a_worker_finds_the_sign_in_job() -> None:
    # given / when: a worker's task discovery
    from loyalty_platform.celery import app

    app.loader.import_default_modules()

    # then: the job every sign-in enqueues is one it can run
    assert "member_auth.send_sign_in_code" in app.tasks
