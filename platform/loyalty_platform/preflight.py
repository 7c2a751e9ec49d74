"""Checks of the running configuration, shared by `loyalty doctor` and `loyalty serve`.

Each check returns a ``CheckResult``; a failed one carries one line naming the
setting and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError

from loyalty_kernel.tenancy import use_public_schema
from loyalty_platform import embedded_db

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<10}  {self.detail}"


def _database_label() -> str:
    db = settings.DATABASES["default"]
    if embedded_db.is_embedded():
        return f"embedded PostgreSQL in {embedded_db.data_dir() / 'pgdata'}"
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or "5432"
    return f"{db.get('USER')}@{host}:{port}/{db.get('NAME')}"


def check_database() -> CheckResult:
    label = _database_label()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CheckResult(
            "database",
            FAIL,
            f"DATABASE_URL: cannot connect to {label} ({reason}). "
            "Start PostgreSQL or point DATABASE_URL at a running server",
        )
    return CheckResult("database", OK, f"{label} (PostgreSQL {version})")


def check_migrations() -> CheckResult:
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import schema_exists

    from tenants.partners.models import Partner

    try:
        use_public_schema()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return CheckResult(
                "migrations",
                FAIL,
                f"{len(pending)} migrations not applied to the public schema. "
                "Run `loyalty migrate`",
            )
        if not schema_exists(settings.TENANT_BASE_SCHEMA):
            return CheckResult(
                "migrations",
                FAIL,
                "the partner template schema is missing. Run `loyalty migrate`",
            )
        tenant_apps = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
        leaves = [
            (app, name) for app, name in executor.loader.graph.leaf_nodes() if app in tenant_apps
        ]
        schemas = [
            settings.TENANT_BASE_SCHEMA,
            *Partner.objects.values_list("schema_name", flat=True),
        ]
        behind = []
        with connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(
                    f'SELECT app, name FROM "{schema}".django_migrations'  # noqa: S608
                )
                applied = set(cursor.fetchall())
                if any(leaf not in applied for leaf in leaves):
                    behind.append(schema)
        if behind:
            return CheckResult(
                "migrations",
                FAIL,
                f"schemas behind on migrations: {', '.join(behind[:5])}. Run `loyalty migrate`",
            )
    except OperationalError:
        return CheckResult("migrations", FAIL, "database unreachable; see the database line")
    finally:
        use_public_schema()
    return CheckResult(
        "migrations", OK, f"public schema, template and {len(schemas) - 1} partner schemas current"
    )


def _broker_setting() -> str:
    import os

    return "CELERY_BROKER_URL" if os.environ.get("CELERY_BROKER_URL") else "REDIS_URL"


def check_broker() -> CheckResult:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return CheckResult(
            "broker", OK, "none configured: tasks run in-process (set REDIS_URL for workers)"
        )
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    parts = urlsplit(url)
    label = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        return CheckResult(
            "broker",
            FAIL,
            f"{_broker_setting()}: cannot reach broker {label} ({type(exc).__name__}: {exc}). "
            "Start Redis or fix the URL",
        )
    return CheckResult("broker", OK, f"{label} reachable")


def check_stripe() -> CheckResult:
    key = settings.STRIPE_API_KEY
    if not key:
        return CheckResult(
            "stripe", WARN, "STRIPE_API_KEY not set: settlement payouts are disabled"
        )
    if not key.startswith(("sk_", "rk_")):
        return CheckResult(
            "stripe",
            FAIL,
            "STRIPE_API_KEY: not a secret key (expected sk_... or rk_...). "
            "Copy the secret key from the Stripe dashboard",
        )
    if not settings.STRIPE_WEBHOOK_SECRET:
        return CheckResult(
            "stripe",
            WARN,
            "STRIPE_WEBHOOK_SECRET not set: Stripe webhooks will be rejected",
        )
    mode = "live" if "_live_" in key else "test"
    base = settings.STRIPE_API_BASE or "api.stripe.com"
    return CheckResult("stripe", OK, f"{mode} key configured, API at {base}")


def check_secret_key() -> CheckResult:
    if settings.DEBUG:
        return CheckResult("security", WARN, "DEBUG is on: never run production like this")
    if len(settings.SECRET_KEY) < 32:
        return CheckResult("security", WARN, "SECRET_KEY is shorter than 32 characters")
    return CheckResult("security", OK, "DEBUG off, SECRET_KEY set")


def run_all() -> list[CheckResult]:
    results = [check_secret_key(), check_database()]
    if not results[-1].failed:
        results.append(check_migrations())
    results += [check_broker(), check_stripe()]
    return results


def server_blockers() -> list[CheckResult]:
    """What stops the web server from starting: an unreachable database or broker."""
    return [check for check in (check_database(), check_broker()) if check.failed]
