"""The README's run command, `./loyalty demo`, on a fresh machine: an embedded
PostgreSQL, the seeded demo coalition and the web server, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.testkit import PROJECT_ROOT, free_port, subprocess_env

START_TIMEOUT = 120  # a fresh embedded database: initdb, migrations, seeding
STOP_TIMEOUT = 30

DEMO_PARTNERS = ("FreshMart Grocers", "SkyWay Airlines", "FuelCo Stations", "Bean There Café")


@dataclass
class Reply:
    status: int
    content_type: str
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def fetch(
        self, path: str, *, host: str = "localhost", accept: str = "*/*", query: str | None = None
    ) -> Reply:
        headers = {"Host": host, "Accept": accept}
        data = None
        if query is not None:
            data = json.dumps({"query": query}).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return Reply(
                    response.status, response.headers["Content-Type"], response.read().decode()
                )
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers["Content-Type"], error.read().decode())

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_until_healthy(demo: Demo) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            pytest.fail(f"demo exited with {demo.process.returncode}:\n{demo.log_text()}")
        try:
            if demo.fetch("/healthz").status == 200:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    pytest.fail(f"demo not healthy within {START_TIMEOUT} s:\n{demo.log_text()}")


@pytest.fixture
def demo() -> Iterator[Demo]:
    """`./loyalty demo` on a fresh embedded database of its own (nothing configured)."""
    port = free_port()
    # Not pytest's tmp_path: another pytest run of the same user may prune it meanwhile.
    folder = Path(tempfile.mkdtemp(prefix="loyalty-demo-test-"))
    data_dir = folder / "data"
    log = folder / "demo.log"
    env = subprocess_env(LOYALTY_DATA_DIR=str(data_dir), LOYALTY_VENV=sys.prefix)
    bind = f"127.0.0.1:{port}"
    command = [str(PROJECT_ROOT / "loyalty"), "demo", "--bind", bind, "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    demo = Demo(process, port, data_dir, log)
    postmaster: int | None = None
    try:
        _wait_until_healthy(demo)
        postmaster = demo.postmaster_pid()
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # the embedded server this test started must not outlive it
        postmaster = demo.postmaster_pid() or postmaster
        if postmaster is not None and _alive(postmaster):
            os.kill(postmaster, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(postmaster) and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_demo_serves_the_coalition_and_stops_cleanly_on_ctrl_c(demo: Demo) -> None:
    # given `./loyalty demo` started on a fresh machine and healthy
    postmaster = demo.postmaster_pid()
    assert postmaster is not None, "embedded PostgreSQL not running"
    assert _alive(postmaster), "embedded PostgreSQL not running"

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
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(postmaster), "embedded PostgreSQL still running"
