"""Reading configuration from the environment, with errors that name the setting.

Every problem becomes a ``ConfigurationError`` whose message is one line: the
setting, what is wrong and what to do. The command line prints exactly that line
and exits non-zero, so a bad deployment never ends in a stack trace.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigurationError(ImproperlyConfigured):
    """A setting is missing or malformed; ``str()`` is the one line to show."""

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {problem}. {fix}")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(name, f"{raw!r} is not a boolean", "Use 1/0, true/false or yes/no")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(name, f"{raw!r} is not a whole number", "Set a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str, *, setting: str = "DATABASE_URL") -> dict[str, Any]:
    """Django DATABASES entry for a PostgreSQL URL, or a ConfigurationError."""
    example = "postgres://USER:PASSWORD@HOST:5432/DBNAME"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a non-numeric port
    except ValueError as exc:
        raise ConfigurationError(setting, f"malformed URL ({exc})", f"Use {example}") from None
    if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        raise ConfigurationError(
            setting,
            f"scheme {parts.scheme or '(none)'!r} is not PostgreSQL; this platform runs only "
            "on PostgreSQL",
            f"Use {example}",
        )
    name = parts.path.lstrip("/")
    if not name or "/" in name:
        raise ConfigurationError(setting, "the URL names no database", f"Use {example}")
    if not parts.hostname:
        raise ConfigurationError(setting, "the URL names no host", f"Use {example}")
    import dj_database_url

    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    config["PORT"] = str(port) if port else config.get("PORT", "")
    return config


def redis_url_is_valid(url: str) -> bool:
    return urlsplit(url).scheme in {"redis", "rediss", "amqp", "amqps", "pyamqp", "memory"}
