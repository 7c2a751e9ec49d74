"""Settings, read from the environment (see the configuration table in README.md).

Production-safe defaults: DEBUG is off unless asked, and a missing SECRET_KEY
outside DEBUG stops start-up with a message naming the setting. With no
DATABASE_URL the embedded PostgreSQL is used (see ``embedded_db``); with no
broker Celery runs tasks in-process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loyalty_platform import embedded_db
from loyalty_platform.config import (
    ConfigurationError,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    redis_url_is_valid,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = embedded_db.data_dir()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigurationError(
            "SECRET_KEY",
            "not set and DEBUG is off",
            "Set SECRET_KEY to a long random string (or DEBUG=1 for local development)",
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG"  # noqa: S105

LOYALTY_BASE_DOMAIN = env_str("LOYALTY_BASE_DOMAIN", "localhost").lower()
# Where members reach the public site: the links in e-mails (unsubscribe, profile).
LOYALTY_PUBLIC_URL = env_str(
    "LOYALTY_PUBLIC_URL",
    "http://localhost:8000"
    if LOYALTY_BASE_DOMAIN == "localhost"
    else f"https://{LOYALTY_BASE_DOMAIN}",
).rstrip("/")
LOYALTY_COALITION_NAME = env_str("LOYALTY_COALITION_NAME", "Demo Coalition")
# Hosts that serve the public (coalition) site: the base domain, and loopback
# addresses when the base domain is localhost.
LOYALTY_PUBLIC_HOSTS = env_list(
    "LOYALTY_PUBLIC_HOSTS",
    [LOYALTY_BASE_DOMAIN] + (["127.0.0.1", "::1"] if LOYALTY_BASE_DOMAIN == "localhost" else []),
)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [LOYALTY_BASE_DOMAIN, f".{LOYALTY_BASE_DOMAIN}", *LOYALTY_PUBLIC_HOSTS]
)
LOYALTY_GRAPHIQL = env_bool("LOYALTY_GRAPHIQL", True)
LOYALTY_GRAPHQL_INTROSPECTION = env_bool("LOYALTY_GRAPHQL_INTROSPECTION", True)
LOYALTY_GRAPHQL_MAX_DEPTH = env_int("LOYALTY_GRAPHQL_MAX_DEPTH", 10)
LOYALTY_GRAPHQL_MAX_COST = env_int("LOYALTY_GRAPHQL_MAX_COST", 5000)
# Callers without credentials (the public partner list, catalogue and store
# locator) get a far smaller budget than apps with a key or a member token.
LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST = env_int("LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST", 1000)
LOYALTY_GRAPHQL_MAX_ALIASES = env_int("LOYALTY_GRAPHQL_MAX_ALIASES", 20)
LOYALTY_GRAPHQL_MAX_ROOT_FIELDS = env_int("LOYALTY_GRAPHQL_MAX_ROOT_FIELDS", 20)
LOYALTY_GRAPHQL_MAX_BODY_BYTES = env_int("LOYALTY_GRAPHQL_MAX_BODY_BYTES", 256 * 1024)
LOYALTY_API_RATE_LIMIT = env_int("LOYALTY_API_RATE_LIMIT", 500)  # requests per second per key

# --- database -----------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
if _database_url:
    _database = database_from_url(_database_url)
else:
    # Not started yet (entry points call embedded_db.ensure_running first); the
    # socket folder is only known once it runs, so this is a placeholder that
    # still lets tools such as mypy import settings.
    _database = {"NAME": embedded_db.DATABASE_NAME, "USER": "postgres", "HOST": "", "PORT": ""}
_database["ENGINE"] = "loyalty_platform.db_backend"
_database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
_database["CONN_HEALTH_CHECKS"] = True
_database.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
# Each test run gets its own database; a suffix lets parallel runs share a server.
_database["TEST"] = {"NAME": f"test_loyalty{env_str('LOYALTY_TEST_DB_SUFFIX')}"}
DATABASES: dict[str, dict[str, Any]] = {"default": _database}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- tenants --------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants.partners",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "graphene_django",
    "loyalty_platform",
    "loyalty_graphql",
    "coalition.api_keys",
    "coalition.members",
    "coalition.member_auth",
    "coalition.ledger",
    "coalition.tiers",
    "coalition.catalogue",
    "coalition.charity",
    "coalition.transfers",
    "coalition.adjustments",
    "coalition.rules",
    "coalition.goodwill",
    "coalition.expiry",
    "coalition.settlement",
    "coalition.webhooks",
    "coalition.audit",
    "coalition.analytics",
    "coalition.notifications",
    "tenants.staff",
    "coalition.operators",
    "loyalty_web",
]
TENANT_APPS = [
    "tenants.stores",
    "tenants.earning",
    "tenants.purchases",
    "tenants.rewards",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "partners.Partner"
TENANT_DOMAIN_MODEL = "partners.Domain"
PUBLIC_SCHEMA_URLCONF = "loyalty_platform.urls_public"
ROOT_URLCONF = "loyalty_platform.urls_tenant"
# New partners are cloned from this migrated template schema instead of running
# every tenant migration again: creation time stays flat as partners grow.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Set search_path once per request (and again after a schema switch or a rollback,
# which django-tenants tracks) instead of before every query: it halves the round
# trips of a request; recordPurchase over HTTP went from 47 statements to 26.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "loyalty_platform.middleware.DatabaseUnavailableMiddleware",
    "loyalty_platform.middleware.PartnerHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "loyalty_web.design.context.site",
            ],
        },
    },
]
WSGI_APPLICATION = "loyalty_platform.wsgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR.parent / "loyalty_web" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Static files are served straight from the apps' static folders (the finders):
# no collectstatic step. STATIC_ROOT only names where `loyalty collectstatic`
# copies them, for a deployment that wants compressed copies; unset, WhiteNoise
# has no folder to look in, and nothing to warn about.
STATIC_ROOT = env_str("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# Session cookies are host-only (no SESSION_COOKIE_DOMAIN): a session opened on a
# partner's host is never sent to another host, and the console also checks that
# the session was opened for this partner.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LOYALTY_STAFF_SESSION_SECONDS = env_int("LOYALTY_STAFF_SESSION_SECONDS", 8 * 3600)
# Member portal sessions: signed out after a week without a visit, and after 30
# days whatever happens (members sign in again with an e-mailed code, cheaply).
LOYALTY_MEMBER_SESSION_IDLE_SECONDS = env_int("LOYALTY_MEMBER_SESSION_IDLE_SECONDS", 7 * 86400)
LOYALTY_MEMBER_SESSION_MAX_SECONDS = env_int("LOYALTY_MEMBER_SESSION_MAX_SECONDS", 30 * 86400)
# Two-step sign-in (django-otp): the name authenticator apps show next to the code.
OTP_TOTP_ISSUER = LOYALTY_COALITION_NAME
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

GRAPHENE = {"SCHEMA": "loyalty_graphql.schema.partner_schema"}

# --- cache (rate limits, tier upgrade claims) ------------------------------------
_redis_url = env_str("REDIS_URL")
# Short socket timeouts: the rate limiter falls back to a per-process count when
# Redis does not answer, and a Redis that hangs must not hold requests long.
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or env_str("REDIS_URL")
if CELERY_BROKER_URL and not redis_url_is_valid(CELERY_BROKER_URL):
    raise ConfigurationError(
        "CELERY_BROKER_URL" if env_str("CELERY_BROKER_URL") else "REDIS_URL",
        f"{CELERY_BROKER_URL!r} is not a broker URL",
        "Use redis://HOST:6379/0",
    )
# No broker configured: run tasks in-process, at the point they are enqueued
# (services enqueue with transaction.on_commit, so still after the commit).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    # Celery still takes a producer from its pool for an eager task; a memory URL
    # without a host name makes kombu log a warning each time a process does so.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_RESULT_BACKEND = (
    env_str(
        "CELERY_RESULT_BACKEND",
        CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "",
    )
    or None
)
CELERY_TASK_DEFAULT_QUEUE = "loyalty"
# Nothing reads what a job returns, so no job stores it (with a Redis broker the
# results would sit in that Redis for a day each, beside the queued jobs). The one
# exception is platform.ping, whose answer the worker tests read.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Late acknowledgement is opted into per task, only by idempotent ones.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task
# (then each task opens a backend: connect, authenticate, warm the catalog caches).
# A reuse count makes it close only every that many tasks, and loyalty_platform.celery
# applies Django's own rules around each task instead, as around a request: the
# connection is kept for DATABASE_CONN_MAX_AGE and replaced when found unusable.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "ledger-seal-chain": {"task": "ledger.seal_chain", "schedule": 10.0},
    "ledger-expire-holds": {"task": "ledger.expire_holds", "schedule": 60.0},
    "expiry-expire-points": {"task": "expiry.expire_points", "schedule": 3600.0},
    "expiry-send-reminders": {"task": "expiry.send_reminders", "schedule": 3600.0},
    "tiers-review": {"task": "tiers.review", "schedule": 3600.0},
    "settlement-close-periods": {"task": "settlement.close_due_periods", "schedule": 300.0},
    "settlement-reconcile": {"task": "settlement.reconcile", "schedule": 3600.0},
    # Refused Stripe payouts, each at its own backoff (statement.payout_retry_at).
    "settlement-retry-payouts": {"task": "settlement.retry_payouts", "schedule": 60.0},
    "ledger-snapshot-accounts": {"task": "ledger.snapshot_accounts", "schedule": 600.0},
    # Re-enqueues lost webhook deliveries; without a broker it also makes the retries.
    "webhooks-sweep": {"task": "webhooks.sweep", "schedule": 30.0},
    # Folds new journal transactions into the dashboards' daily rollups.
    "analytics-advance-rollups": {"task": "analytics.advance_rollups", "schedule": 15.0},
    # Folds new journal transactions into the operator finance report's rollups;
    # the report reads the tail above them live, so a late run costs time, not figures.
    "settlement-advance-finance-rollups": {
        "task": "settlement.advance_finance_rollups",
        "schedule": 60.0,
    },
    # Hourly, but each member gets one digest per UTC day: the first run of the day
    # fixes the day's window and the outbox keys each e-mail by the day.
    "notifications-points-digests": {
        "task": "notifications.send_points_digests",
        "schedule": 3600.0,
    },
}

# --- e-mail ---------------------------------------------------------------------
# Expiry reminders and notifications. By default mail is written to the console
# (the demo); set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and
# EMAIL_HOST etc. for real delivery.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "loyalty@localhost")

# --- settlement -----------------------------------------------------------------
# Points a partner may adjust (added and taken back alike) per partner-local day.
LOYALTY_ADJUSTMENT_DAILY_CAP = env_int("LOYALTY_ADJUSTMENT_DAILY_CAP", 10_000)
LOYALTY_GOODWILL_APPROVAL_THRESHOLD = env_int("LOYALTY_GOODWILL_APPROVAL_THRESHOLD", 1_000)
LOYALTY_SETTLEMENT_FREQUENCY = env_str("LOYALTY_SETTLEMENT_FREQUENCY", "monthly").lower()
if LOYALTY_SETTLEMENT_FREQUENCY not in {"daily", "weekly", "monthly"}:
    raise ConfigurationError(
        "LOYALTY_SETTLEMENT_FREQUENCY",
        f"{LOYALTY_SETTLEMENT_FREQUENCY!r} is not a settlement frequency",
        "Use daily, weekly or monthly",
    )

# --- stripe ---------------------------------------------------------------------
STRIPE_API_KEY = env_str("STRIPE_API_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Points the official SDK at another server: the local fake in tests and the demo.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}

# Member portal sign-in: an e-mailed six-digit code and link, single use, valid this
# long; requests per address and per network address in that window are limited.
LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS = env_int("LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS", 600)
LOYALTY_MEMBER_SIGN_IN_PER_ADDRESS = env_int("LOYALTY_MEMBER_SIGN_IN_PER_ADDRESS", 3)
LOYALTY_MEMBER_SIGN_IN_PER_IP = env_int("LOYALTY_MEMBER_SIGN_IN_PER_IP", 20)
# Transfers: a member naming this many recipients in an hour that cannot receive
# points (unknown, blocked, erased) is refused further look-ups until the hour ends.
LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR = env_int(
    "LOYALTY_TRANSFER_RECIPIENT_MISSES_PER_HOUR", 10
)
