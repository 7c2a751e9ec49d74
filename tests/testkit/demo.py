"""`./loyalty demo` as a newcomer runs it, in a process of its own: a fresh data
folder (embedded PostgreSQL, the generated secret key), nothing configured, on a
free port. Tests talk to it over HTTP and run other `loyalty` commands next to it.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.testkit import PROJECT_ROOT, free_port, subprocess_env

START_TIMEOUT = 180  # a fresh embedded database: initdb, migrations, seeding
STOP_TIMEOUT = 30


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

    def log_text(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def env(self, **settings: str) -> dict[str, str]:
        """The environment of a command run next to the demo: its data folder,
        nothing else configured (no DATABASE_URL, no SECRET_KEY)."""
        return subprocess_env(
            LOYALTY_DATA_DIR=str(self.data_dir), LOYALTY_VENV=sys.prefix, **settings
        )

    def loyalty(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        """`./loyalty ARGS` in another terminal, against the demo's data folder."""
        return subprocess.run(
            [str(PROJECT_ROOT / "loyalty"), *args],
            cwd=PROJECT_ROOT, env=self.env(**settings), capture_output=True, text=True,
            timeout=180, check=False,
        )  # fmt: skip

    def fetch(
        self,
        path: str,
        *,
        host: str = "localhost",
        accept: str = "*/*",
        query: str | None = None,
        variables: dict[str, Any] | None = None,
        operation: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Host": host, "Accept": accept, **(headers or {})}
        data = None
        if query is not None:
            body: dict[str, Any] = {"query": query}
            if variables is not None:
                body["variables"] = variables
            if operation is not None:
                body["operationName"] = operation
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return Reply(
                    response.status, response.headers["Content-Type"], response.read().decode()
                )
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers["Content-Type"], error.read().decode())

    def sign_in(self, *, host: str, email: str, password: str, login: str = "/login/") -> Reply:
        """A person signing in on a console's log-in page in a browser of their own
        (cookies kept): the page after the redirect, then the dashboard."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{self.port}"
        first = urllib.request.Request(f"{base}{login}", headers={"Host": host})  # noqa: S310
        with opener.open(first) as page:
            form = page.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token is not None, form
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token[1], "email": email, "password": password, "next": "/"}
        ).encode()
        headers = {"Host": host, "Referer": f"http://{host}{login}", "Origin": f"http://{host}"}
        try:
            sent = urllib.request.Request(f"{base}{login}", body, headers)  # noqa: S310
            with opener.open(sent) as answer:
                return Reply(answer.status, answer.headers["Content-Type"], answer.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers["Content-Type"], error.read().decode())

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None


def alive(pid: int) -> bool:
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


@contextmanager
def running_demo() -> Iterator[Demo]:
    """`./loyalty demo` on a fresh embedded database of its own (nothing configured),
    healthy; killed afterwards with its embedded PostgreSQL if still running."""
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
        if postmaster is not None and alive(postmaster):
            os.kill(postmaster, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while alive(postmaster) and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)
