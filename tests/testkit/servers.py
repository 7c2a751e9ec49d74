"""Servers a test owns outright, so it may SIGKILL and restart them: a PostgreSQL on
a data folder of its own, a Redis, and `loyalty serve` (gunicorn) pointed at them.

Nothing here touches the suite's database or the machine's services. Every server
listens on a free loopback port only and runs in a process group of its own, so
``kill()`` takes the whole server down at once (PostgreSQL's backends with their
postmaster, like a crash) and ``stop()`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.testkit import PROJECT_ROOT, free_port, subprocess_env

IMPORT_ROOTS = (PROJECT_ROOT, PROJECT_ROOT / "platform", PROJECT_ROOT / "graphql")
# A user that is not root, for PostgreSQL (it refuses to run as root): the same one
# the embedded database (the pgserver wheel) creates and runs as.
POSTGRES_SYSTEM_USER = "pgserver"


def project_env(**settings: str) -> dict[str, str]:
    """A child's environment: no inherited platform setting, this tree's code first
    on the path (not whatever copy the virtualenv has installed), plus ``settings``."""
    env = subprocess_env(**settings)
    roots = [str(root) for root in IMPORT_ROOTS]
    env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["DJANGO_SETTINGS_MODULE"] = "loyalty_platform.settings"
    return env


def _wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


def _group_alive(pgid: int) -> bool:
    """Whether a process of this group still runs (zombies do not count: an
    orphaned backend is reaped by whatever PID 1 is, maybe never)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGKILL the process group led by ``process`` and wait until none of it runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    _wait_for_exit(process, timeout)
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def children_of(parent: int) -> list[int]:
    """Live child processes of ``parent`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def log_tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@dataclass
class OwnPostgres:
    """PostgreSQL from the pgserver wheel's binaries on a data folder in ``folder``.

    ``kill()`` is a crash (SIGKILL to the postmaster and every backend); ``start()``
    again runs crash recovery on the same folder and port. fsync is off: a killed
    process leaves what it wrote in the operating system's page cache, so only a
    power loss, which this does not simulate, could lose it.
    """

    folder: Path
    port: int = field(default_factory=free_port)
    database: str = "loyalty"
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def _bin(self, name: str) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _as_owner(self) -> dict[str, object]:
        """Popen arguments running PostgreSQL as a user that is not root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        user = ensure_user_exists(POSTGRES_SYSTEM_USER) or pwd.getpwnam(POSTGRES_SYSTEM_USER)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)  # what the embedded database does too
        ensure_prefix_permissions(self.folder)
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def init(self) -> None:
        owner = self._as_owner()
        subprocess.run(
            [self._bin("initdb"), "-D", str(self.folder / "data"), "--auth=trust",
             "-U", "postgres", "--encoding=utf8", "--no-sync"],
            check=True, capture_output=True, timeout=60, **owner,
        )  # fmt: skip
        self.start()
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30) -> None:
        owner = self._as_owner()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self._bin("postgres"), "-D", str(self.folder / "data"),
                 "-c", "listen_addresses=127.0.0.1", "-p", str(self.port),
                 "-c", f"unix_socket_directories={self.folder}", "-c", "fsync=off",
                 "-c", "max_connections=60"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **owner,
            )  # fmt: skip
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{log_tail(self.log)}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:  # starting up, or recovering
                time.sleep(0.1)
        raise RuntimeError(f"postgres not ready within {timeout} s:\n{log_tail(self.log)}")

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)

    def stop(self) -> None:
        self.kill()
        self.process = None


@dataclass
class OwnRedis:
    """redis-server on a free loopback port, keeping nothing on disk."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.folder / "redis.log"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    def start(self, timeout: float = 15) -> None:
        binary = self.binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited:\n{log_tail(self.log)}")
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server not ready within {timeout} s:\n{log_tail(self.log)}")

    def kill(self) -> None:
        if self.process is not None:
            _kill_group(self.process)

    def stop(self) -> None:
        self.kill()
        self.process = None


@dataclass
class WebServer:
    """`loyalty serve` (gunicorn: a master and its worker processes)."""

    folder: Path
    env: dict[str, str]
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "serve.log"

    def start(self, timeout: float = 90) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "loyalty_platform.cli", "serve",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                 "--threads", str(self.threads)],
                cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"loyalty serve exited:\n{log_tail(self.log)}")
            if len(self.worker_pids()) == self.workers and self._healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"loyalty serve not healthy within {timeout} s:\n{log_tail(self.log)}")

    def _healthy(self) -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/healthz", headers={"Host": "localhost"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 loopback
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process is not None else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn's graceful shutdown
        _wait_for_exit(self.process, 15)
        _kill_group(self.process)


def secret_key() -> str:
    return secrets.token_urlsafe(50)
