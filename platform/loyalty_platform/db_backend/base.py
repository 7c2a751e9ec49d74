"""django-tenants' PostgreSQL backend, with a connection health check (Django's
CONN_HEALTH_CHECKS, run once per request on a persistent connection) that costs
no round trip.

Django's check sends ``SELECT 1`` before each request's first statement: on the
hot purchase path that is one round trip in ten. A connection is unusable when
the driver has seen it fail, or when the server has closed it (restart,
failover, an administrator terminating the backend, an idle timeout): the server
then sends its final error and closes the socket, which leaves the socket
readable while no query is in flight. An idle connection's socket is otherwise
silent, so "readable" means "replace it". A message the client did not wait
for (a notice, a parameter change) only costs a needless reconnect.
"""

from __future__ import annotations

import select

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from psycopg import pq


class DatabaseWrapper(TenantDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.pgconn.transaction_status == pq.TransactionStatus.UNKNOWN:
            return False  # libpq's word for a bad connection
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
