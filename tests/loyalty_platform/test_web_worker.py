"""`loyalty serve`'s threaded worker keeps keep-alive clients spread over the
workers (loyalty_platform/web_worker.py).

gunicorn's own gthread worker keeps every connection where it was accepted, so
four persistent clients on two workers of two threads end 2/2 only by luck (3/1
or 4/0 as often as not, and then some client always waits for a thread). Here
they end 2/2 every time: a worker accepts only with a thread to spare and hands
back a connection it cannot serve."""

from __future__ import annotations

import http.client
import inspect
import re
import threading
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from gunicorn.workers.gthread import ThreadWorker

from loyalty_platform.management.commands.serve import THREADED_WORKER
from loyalty_platform.web_worker import BalancedThreadWorker
from tests.testkit import database_url_of
from tests.testkit.servers import WebServer, project_env, secret_key

CLIENTS = 4
WORKERS = 2
THREADS = 2


def _worker(threads: int, *, kept_alive: int, pending: int, open_: int) -> Any:
    """The worker's counting state, without a running gunicorn."""
    worker = object.__new__(BalancedThreadWorker)
    worker.cfg = SimpleNamespace(threads=threads)
    worker.worker_connections = 1000
    worker.max_keepalived = 1000 - threads
    worker.keepalived_conns = deque(range(kept_alive))
    worker.pending_conns = deque(range(pending))
    worker.nr_conns = open_
    return worker


def test_serve_uses_the_balanced_worker() -> None:
    module, name = THREADED_WORKER.rsplit(".", 1)
    assert (module, name) == (BalancedThreadWorker.__module__, BalancedThreadWorker.__name__)


@pytest.mark.parametrize(
    ("kept_alive", "pending", "open_", "accepts"),
    [
        (0, 0, 0, True),  # nothing open
        (0, 0, 3, True),  # 3 requests in hand, a 4th thread free
        (0, 0, 4, False),  # every thread busy: leave the connection to another worker
        (5, 1, 9, True),  # 6 idle connections do not hold a thread: 3 busy of 4
        (5, 1, 10, False),  # 4 busy of 4
    ],
)
def test_a_worker_accepts_only_with_a_thread_to_spare(
    kept_alive: int, pending: int, open_: int, accepts: bool
) -> None:
    worker = _worker(4, kept_alive=kept_alive, pending=pending, open_=open_)
    # gunicorn's run loop: accept while nr_conns < worker_connections
    assert (worker.nr_conns < worker.worker_connections) is accepts


def test_the_configured_connection_limit_still_holds() -> None:
    worker = _worker(4, kept_alive=20, pending=0, open_=21)
    worker.worker_connections = 10
    assert worker.worker_connections == 10
    assert not worker.nr_conns < worker.worker_connections


@pytest.mark.parametrize(
    ("kept_alive", "open_", "closes"),
    [
        (0, 4, False),  # 4 requests, 4 threads: keep the connection
        (0, 5, True),  # a request waits for a thread: hand this connection back
        (3, 7, False),  # 3 idle + 4 serving
        (3, 8, True),  # 3 idle + 5 serving
    ],
)
def test_a_worker_hands_back_a_connection_it_cannot_serve(
    kept_alive: int, open_: int, closes: bool
) -> None:
    worker = _worker(4, kept_alive=kept_alive, pending=0, open_=open_)
    # gunicorn closes after the response when len(keepalived_conns) >= max_keepalived
    assert (len(worker.keepalived_conns) >= worker.max_keepalived) is closes


def test_gunicorn_still_reads_the_limits_where_the_worker_sets_them() -> None:
    """The rules work through two attributes gunicorn's gthread worker reads; a
    gunicorn release that stops reading them must fail here, not silently."""
    run = inspect.getsource(ThreadWorker.run)
    assert re.search(r"self\.nr_conns < self\.worker_connections", run)
    handle = inspect.getsource(ThreadWorker.handle_request)
    assert re.search(r"len\(self\.keepalived_conns\) >= self\.max_keepalived", handle)
    for counted in ("keepalived_conns", "pending_conns", "nr_conns"):
        assert f"self.{counted}" in inspect.getsource(ThreadWorker)


def _server_side_owner(worker_pids: list[int], port: int) -> dict[int, int]:
    """{client port: worker pid} for the server's established connections (Linux
    /proc: each worker's socket inodes, matched with /proc/net/tcp)."""
    inodes: dict[str, int] = {}
    for pid in worker_pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[target[8:-1]] = pid
    owners: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port and inode in inodes:
            owners[int(remote.split(":")[1], 16)] = inodes[inode]
    return owners


@pytest.mark.slow
def test_keep_alive_clients_end_spread_evenly_over_the_workers(
    live_db: Any, tmp_path: Path
) -> None:
    env = project_env(
        DATABASE_URL=database_url_of(connection.settings_dict),
        SECRET_KEY=secret_key(),
        DATABASE_CONN_MAX_AGE="60",
    )
    web = WebServer(tmp_path, env, workers=WORKERS, threads=THREADS)
    web.start()
    try:
        stop = time.monotonic() + 5.0
        ports: dict[int, int] = {}  # client: its connection's port, after each answer
        failures: list[str] = []

        def client(number: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
            try:
                while time.monotonic() < stop:
                    conn.request("GET", "/healthz", headers={"Host": "localhost"})
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        failures.append(f"HTTP {response.status}")
                    if conn.sock is not None:  # None after a "Connection: close"
                        ports[number] = conn.sock.getsockname()[1]
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        # Under load, from the third second on: where each client's connection is.
        # A snapshot counts when every client's last port is one the workers hold
        # (none is between a "Connection: close" and its new connection).
        time.sleep(3.0)
        placements = []
        while time.monotonic() < stop - 0.5:
            current = dict(ports)
            owners = _server_side_owner(web.worker_pids(), web.port)
            if len(current) == CLIENTS and all(port in owners for port in current.values()):
                placements.append(
                    sorted(
                        sum(1 for port in current.values() if owners[port] == pid)
                        for pid in web.worker_pids()
                    )
                )
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=30)
        assert not failures, failures
        assert placements, "no consistent snapshot of the connections"
        # Once even, it stays even: no worker then has a request waiting for a thread.
        assert placements[-3:] == [[CLIENTS // WORKERS] * WORKERS] * 3, placements
    finally:
        web.stop()
