"""The README's run command, `./loyalty demo`, on a fresh machine: an embedded
PostgreSQL, the seeded demo coalition and the web server, stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from loyalty_platform.demo_seed import DEMO_PASSWORD
from tests.testkit.demo import STOP_TIMEOUT, Demo, alive, running_demo

DEMO_PARTNERS = ("FreshMart Grocers", "SkyWay Airlines", "FuelCo Stations", "Bean There Café")


@pytest.fixture
def demo() -> Iterator[Demo]:
    with running_demo() as started:
        yield started


@pytest.mark.slow
def test_demo_serves_the_coalition_and_stops_cleanly_on_ctrl_c(demo: Demo) -> None:
    # given `./loyalty demo` started on a fresh machine and healthy
    postmaster = demo.postmaster_pid()
    assert postmaster is not None, "embedded PostgreSQL not running"
    assert alive(postmaster), "embedded PostgreSQL not running"

    # then the public home page lists the seeded demo partners
    home = demo.fetch("/")
    assert home.status == 200, home.body
    for name in DEMO_PARTNERS:
        assert name in home.body

    # and a partner's host serves that partner's merchant console, which asks staff to sign in
    console = demo.fetch("/", host="freshmart.localhost")
    assert console.status == 200, console.body
    assert "FreshMart Grocers" in console.body
    assert "merchant console" in console.body
    assert "Sign in" in console.body
    assert "SkyWay" not in console.body

    # and the cashier whose log-in the demo printed signs in and reaches the dashboard
    printed = demo.log_text(tail=20000)
    assert "cashier@freshmart.example" in printed, printed
    assert f"Password of every demo log-in (operator and staff): {DEMO_PASSWORD}" in printed
    assert "/operator/  log in as operator@coalition.example" in printed
    # and the operator admin signs in to the operator console, which first asks for
    # two-step sign-in (required for admins)
    operator = demo.sign_in(
        host="localhost", email="operator@coalition.example", password=DEMO_PASSWORD,
        login="/operator/login/",
    )  # fmt: skip
    assert operator.status == 200, operator.body
    assert "needs two-step sign-in" in operator.body
    dashboard = demo.sign_in(
        host="freshmart.localhost", email="cashier@freshmart.example", password=DEMO_PASSWORD
    )
    assert dashboard.status == 200, dashboard.body
    assert "cashier@freshmart.example" in dashboard.body
    assert "Sign out" in dashboard.body
    # but not on another partner's console
    refused = demo.sign_in(
        host="skyway.localhost", email="cashier@freshmart.example", password=DEMO_PASSWORD
    )
    assert refused.status == 400, refused.body
    assert "Sign out" not in refused.body

    # and /graphql shows GraphiQL to a browser
    graphiql = demo.fetch("/graphql", accept="text/html")
    assert graphiql.status == 200
    assert graphiql.content_type.startswith("text/html")
    assert "graphiql" in graphiql.body.lower()

    # and answers GraphQL queries on the public host and on a partner's host
    partners = demo.fetch("/graphql", accept="application/json", query="{ partners { slug } }")
    assert partners.status == 200, partners.body
    assert {row["slug"] for row in partners.json()["data"]["partners"]} == {
        "freshmart", "skyway", "fuelco", "beanthere",
    }  # fmt: skip
    partner = demo.fetch(
        "/graphql", host="freshmart.localhost", accept="application/json",
        query="{ partner { slug } }",
    )  # fmt: skip
    assert partner.status == 200, partner.body
    assert partner.json() == {"data": {"partner": {"slug": "freshmart"}}}

    # and an unknown host gets our 404 page, not a traceback
    unknown = demo.fetch("/", host="nope.localhost")
    assert unknown.status == 404
    assert "No partner at nope.localhost" in unknown.body
    assert "Traceback" not in unknown.body

    # when it gets Ctrl-C
    os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    try:
        returncode = demo.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"demo still running {STOP_TIMEOUT} s after Ctrl-C:\n{demo.log_text()}")

    # then it exits cleanly, and the embedded PostgreSQL stopped with it
    log = demo.log_text()
    assert returncode == 0, log
    assert "Traceback" not in log, log
    assert demo.postmaster_pid() is None, "postmaster.pid left behind"
    deadline = time.monotonic() + 10
    while alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(postmaster), "embedded PostgreSQL still running"
