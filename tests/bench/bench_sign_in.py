"""Benchmark: a portal sign-in request for an enrolled address against one for an
unknown address, the timing a stranger could use to learn who is enrolled.

Run with `./loyalty bench sign_in`. On one test database, in one run:

1. 100,000 members (``LOYALTY_BENCH_SCALE`` scales it);
2. ``REQUESTS`` POSTs of the sign-in form for enrolled addresses and as many for
   unknown ones, interleaved (known, unknown, known, ...) so the machine's load
   falls on both alike, each from a fresh browser, a new address and its own
   network address (so no throttle is reached), through the whole Django stack in
   this process: the "server time" of a request, with no network in it. The job the
   request enqueues is handed to a broker that only records it, as Redis would take
   it in production (the e-mail is the worker's time, not the request's).

Prints one table (path | p50 | p95 | baseline: the other path | ratio). Asserts
only that both answered the same redirect and that each enqueued one job, and
that the known addresses' jobs, run afterwards, mail their codes; never a timing.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from django.core import mail
from django.test import Client
from django.test.utils import override_settings

from coalition.member_auth.sign_in import sign_in_code_send
from coalition.members.models import Member
from loyalty_kernel import jobs
from tests.testkit import assert_on_test_database
from tests.testkit.bench import percentile, print_table, timed
from tests.testkit.concurrency import bulk_members
from tests.testkit.portal import public_host

SCALE = float(os.environ.get("LOYALTY_BENCH_SCALE", "1"))
MEMBERS = 100_000
WARM_UP = 10
REQUESTS = 200


def _post(email: str, number: int) -> tuple[float, int, str]:
    client = Client(HTTP_HOST=public_host(), REMOTE_ADDR=f"10.{number // 65536 % 256}."
                    f"{number // 256 % 256}.{number % 256}")  # fmt: skip
    started = time.perf_counter()
    response = client.post("/portal/sign-in/", {"email": email})
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, response.status_code, str(response.get("Location", ""))


def test_this_module_runs_on_the_test_database(db: None) -> None:
    assert_on_test_database()


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_sign_in_for_an_enrolled_and_an_unknown_address_take_the_same_time(
    live_db: Any, monkeypatch: Any
) -> None:
    assert_on_test_database()
    load_before = os.getloadavg()
    requests = max(int(REQUESTS * min(SCALE, 1)), 20)

    # given: members, and a broker that records the jobs
    ids, seconds = timed(lambda: bulk_members(max(int(MEMBERS * SCALE), 100), "bsi"))
    known = list(
        Member.objects.filter(pk__in=ids[: WARM_UP + requests]).values_list("email", flat=True)
    )
    run = uuid.uuid4().hex[:8]
    unknown = [f"nobody-{run}-{i}@example.com" for i in range(WARM_UP + requests)]
    enqueued: list[tuple[str, tuple[Any, ...]]] = []

    def record(task: Any, *args: Any) -> bool:
        enqueued.append((task.name, args))
        return True

    monkeypatch.setattr(jobs, "send_now", record)

    # when: the two paths are asked in turn, after a warm-up of each
    times: dict[str, list[float]] = {"enrolled": [], "unknown": []}
    answers = set()
    for i in range(WARM_UP + requests):
        for path, email, number in (
            ("enrolled", known[i], 2 * i),
            ("unknown", unknown[i], 2 * i + 1),
        ):
            elapsed, status, location = _post(email, number)
            answers.add((status, location))
            if i >= WARM_UP:
                times[path].append(elapsed)

    # then: one answer for all, one job per request; the enrolled get their codes
    assert answers == {(302, "/portal/sign-in/code/")}
    assert len(enqueued) == 2 * (WARM_UP + requests)
    assert {name for name, _args in enqueued} == {"member_auth.send_sign_in_code"}
    sent = [sign_in_code_send(attempt_id=args[0], link_url=args[1]) for _n, args in enqueued[:2]]
    assert sent == [True, False]
    assert [message.to for message in mail.outbox] == [[known[0]]]

    print()
    print(
        f"portal sign-in: {len(ids):,} members (made in {seconds:.1f} s); {requests} requests "
        f"per path after {WARM_UP} to warm up, interleaved; load before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    rows = []
    for path, other in (("enrolled", "unknown"), ("unknown", "enrolled")):
        p50, other_p50 = percentile(times[path], 50), percentile(times[other], 50)
        rows.append(
            (
                f"POST /portal/sign-in/ ({path} address)",
                f"p50 {p50:.2f} ms (p95 {percentile(times[path], 95):.2f})",
                f"{other} p50 {other_p50:.2f} ms",
                f"{p50 / other_p50:.2f}x",
                "similar (no target)",
                "-",
            )
        )
    print_table(rows)
