"""`loyalty serve`: the production web server (gunicorn) after preflight checks."""

from __future__ import annotations

import gc
import ipaddress
import os
import re
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from loyalty_platform import preflight

# gthread, keeping keep-alive clients spread over the workers (see its module).
THREADED_WORKER = "loyalty_platform.web_worker.BalancedThreadWorker"
HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def bind_problem(bind: str) -> str | None:
    """What is wrong with a --bind value, or None. HOST:PORT ([IPv6]:PORT too),
    or gunicorn's unix:PATH. Checked before anything starts: gunicorn itself
    takes a bare word as a host on port 8000 and fails later, less clearly."""
    if bind.startswith("unix:"):
        return None if bind[len("unix:") :] else "unix: needs a socket path"
    host, colon, port = bind.rpartition(":")
    if not colon:
        return "no :PORT"
    if not host:
        return "no HOST before the port"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"{port!r} is not a port number (1-65535)"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address"
        return None
    if len(host) > 253 or not all(HOST_LABEL.match(label) for label in host.split(".")):
        return f"{host!r} is not a host name or IP address"
    return None


def check_bind(bind: str) -> None:
    """Exit with status 2 and one line saying what to use when --bind is wrong."""
    problem = bind_problem(bind)
    if problem is not None:
        sys.stderr.write(
            f"loyalty: --bind {bind!r}: {problem}. Use HOST:PORT, for example "
            "127.0.0.1:8000 (this machine only) or 0.0.0.0:8000 (every interface)\n"
        )
        raise SystemExit(2)


def _freeze_loaded_objects(worker: Any) -> None:
    """Once a worker has loaded the application, move everything allocated so far
    (modules, the GraphQL schemas, settings) out of the collector's reach: full
    collections then scan only what requests allocate, which keeps them from
    pausing all of the worker's threads for tens of milliseconds."""
    gc.freeze()


def serve_forever(*, bind: str, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class PlatformServer(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", THREADED_WORKER if threads > 1 else "sync")
            self.cfg.set("accesslog", os.environ.get("ACCESS_LOG", "-"))
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("timeout", 60)
            self.cfg.set("proc_name", "loyalty")
            self.cfg.set("post_worker_init", _freeze_loaded_objects)

        def load(self) -> Any:
            from loyalty_platform.wsgi import application

            return application

    from loyalty_platform.inprocess_beat import start_if_needed

    beat = start_if_needed()
    try:
        PlatformServer().run()
    finally:
        if beat is not None:
            beat.stop()
            # Let a running job finish before the interpreter exits: the embedded
            # database stops at exit, and a job cut off by that logs a traceback.
            beat.join(timeout=10)


class Command(BaseCommand):
    help = "Serve the platform with gunicorn (public site, partner sites, GraphQL)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        check_bind(options["bind"])
        blockers = preflight.server_blockers()
        if blockers:
            for blocker in blockers:
                sys.stderr.write(f"loyalty: {blocker.detail}\n")
            raise SystemExit(1)
        serve_forever(bind=options["bind"], workers=options["workers"], threads=options["threads"])


def add_server_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        default=os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}"),
        help="HOST:PORT to listen on (env BIND or PORT; default 127.0.0.1:8000)",
    )
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")),
        help="worker processes (env WEB_CONCURRENCY, default 2)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")),
        help="threads per worker (env WEB_THREADS, default 8: the best measured, README)",
    )  # fmt: skip
