"""The web server's worker: gunicorn's threaded worker, with connections kept
spread over the workers.

gunicorn's ``gthread`` worker keeps a client's keep-alive connection for as long
as the client wants it, and a worker accepts new connections while it has fewer
than ``worker_connections`` (1,000 by default) open, whether or not a thread is
free to serve them. Persistent clients (tills, e-shop back ends, a proxy's
upstream pool) therefore stay where they first landed: measured with 16 keep-alive
clients on 2 workers of 8 threads, one worker held 10 of them and the other 6, so
two of the first worker's clients always waited for a thread, and those ten
clients' p99 was about twice the other six's (see docs/performance.md).

Two rules put that right, without coordination between workers:

- **Accept only with a thread to spare.** A worker stops accepting while every
  one of its threads has a connection in hand (connections idle between
  requests do not count); the kernel leaves the new connection to a worker
  that has one, or queues it until a thread frees up.
- **Give back a connection it cannot serve.** When a response finishes while
  more of this worker's connections have a request to serve than it has
  threads, that response says ``Connection: close``; the client reconnects
  (HTTP clients do so on their own) and, by the first rule, lands on a
  worker with a thread to spare.

When every worker is busy, nothing changes: connections queue as before.
The rules read the worker's own counts (``nr_conns``, its kept-alive and
pending connections), gunicorn internals of the 27.x releases pyproject.toml
allows; ``tests/loyalty_platform/test_web_worker.py`` fails if they move.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    """``gthread`` with the two rules of this module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connection_limit = 0
        self._keepalive_limit = 0
        super().__init__(*args, **kwargs)

    def _idle(self) -> int:
        """Open connections with no request being served: kept alive between
        requests, or accepted and waiting for their first bytes."""
        return len(self.keepalived_conns) + len(self.pending_conns)

    def _serving(self) -> int:
        """Connections with a request being served or waiting for a thread."""
        return int(self.nr_conns) - self._idle()

    # gunicorn's run loop accepts while ``nr_conns < worker_connections``: with
    # the limit at threads + idle connections, that is "while a thread is free"
    # (and never past the configured limit).
    @property
    def worker_connections(self) -> int:
        return min(self._connection_limit, int(self.cfg.threads) + self._idle())

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._connection_limit = value

    # gunicorn closes the connection after a response when ``len(keepalived_conns)
    # >= max_keepalived``: a limit of 0 closes it whenever requests are waiting
    # for one of this worker's threads.
    @property
    def max_keepalived(self) -> int:
        if self._serving() > int(self.cfg.threads):
            return 0
        return self._keepalive_limit

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._keepalive_limit = value
