"""The tests' real Redis (``LOYALTY_TEST_REDIS_URL``), for the tests that need one:
skipped where none runs, a failure in CI (which always starts one)."""

from __future__ import annotations

import os
from typing import Any

import pytest

REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis(url: str = REDIS_URL) -> None:
    """Skip the test when no Redis answers at ``url``; fail it in CI."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} unreachable in CI: {exc}")
        pytest.skip(f"Redis at {url} is unreachable")
    finally:
        client.close()


def redis_cache(url: str = REDIS_URL, **settings: Any) -> dict[str, Any]:
    """``CACHES`` with Django's Redis cache at ``url`` as the default, with the
    short socket timeouts of the platform's own settings (and ``settings`` added)."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            **settings,
        }
    }
