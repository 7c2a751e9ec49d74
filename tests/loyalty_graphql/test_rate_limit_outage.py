"""Redis down does not take the API down: the rate limiter fails open to a
per-process count at the same limit, logs once a minute, and purchases keep
working. The shared cache is pointed at a port nobody listens on."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from unittest import mock

import pytest
from django.test import override_settings

from loyalty_graphql import limits
from tenants.partners.models import Partner
from tests.testkit import api as s
from tests.testkit import free_port
from tests.testkit.shared_redis import REDIS_URL, redis_cache, require_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fresh per-process fallback whose clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(limits, "local_windows", limits.LocalWindows(clock=clock))
    return clock


@pytest.fixture
def redis_down(clock: Clock) -> Iterator[None]:
    with override_settings(CACHES=redis_cache(f"redis://127.0.0.1:{free_port()}/0")):
        yield


def test_purchases_keep_working_with_redis_down(
    db: None, partner_a: Partner, redis_down: None
) -> None:
    # given: a partner with rules in force and a member; the cache is unreachable
    world = s.partner_world(partner_a)
    key = s.partner_key(partner_a)

    # when: the partner's till records purchases and looks up the member
    replies = [
        s.gql(s.HOST_A, s.RECORD_PURCHASE,
              {"key": s.unique("k"), "receipt": s.receipt(world.member.member_number, "EUR")},
              key)
        for _ in range(3)
    ]  # fmt: skip
    lookup = s.gql(s.HOST_A, s.MEMBER_QUERY,
                   {"lookup": {"memberNumber": world.member.member_number}}, key)  # fmt: skip

    # then: every call succeeded
    assert [reply.codes("recordPurchase") for reply in replies] == [[], [], []]
    assert lookup.payload("member")["memberNumber"] == world.member.member_number


def test_with_redis_down_the_limit_still_applies_per_process(
    db: None, partner_a: Partner, redis_down: None
) -> None:
    # given: a limit of 2 requests per second, the clock stopped, the cache unreachable
    key = s.partner_key(partner_a, ["read"])
    frozen = time.time() + 8_000_000
    with (
        override_settings(LOYALTY_API_RATE_LIMIT=2),
        mock.patch("loyalty_graphql.limits.time.time", return_value=frozen),
    ):
        # when: three quick requests with one key
        statuses = [s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status for _ in range(3)]
    # then: the third is refused, counted in this process
    assert statuses == [200, 200, 429]


def test_a_cache_outage_is_logged_once_a_minute_and_retried_after_a_pause(
    db: None, partner_a: Partner, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # given: an unreachable cache, and a key
    key = s.partner_key(partner_a, ["read"])
    caplog.set_level(logging.WARNING, logger="loyalty_graphql.limits")
    unreachable = redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    counting = mock.patch.object(limits, "_shared_count", wraps=limits._shared_count)
    with override_settings(CACHES=unreachable), counting as shared:
        # when: ten requests within the same few seconds
        for _ in range(10):
            assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status == 200
        tried_at_first = shared.call_count
        # and: after the pause, then a minute later
        clock.now += limits.CACHE_RETRY_SECONDS
        assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status == 200
        clock.now += limits.LOG_EVERY_SECONDS
        assert s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status == 200

    # then: the cache was tried once, not on every request, and again after the pause
    assert tried_at_first == 1
    assert shared.call_count == 3
    # and: one warning for the first minute, one for the next
    warnings = [r for r in caplog.records if "rate limit cache unreachable" in r.getMessage()]
    assert len(warnings) == 2


def test_with_redis_up_requests_are_counted_in_redis(
    db: None, partner_a: Partner, clock: Clock
) -> None:
    # given: a real Redis as the shared cache (skipped where none runs)
    require_redis()
    key = s.partner_key(partner_a, ["read"])
    frozen = time.time() + 9_000_000
    with (
        override_settings(CACHES=redis_cache(REDIS_URL), LOYALTY_API_RATE_LIMIT=2),
        mock.patch("loyalty_graphql.limits.time.time", return_value=frozen),
    ):
        # when: three quick requests with one key
        statuses = [s.gql(s.HOST_A, s.REWARDS_QUERY, None, key).status for _ in range(3)]
        # then: the third is refused, and the count is in Redis, not in this process
        assert statuses == [200, 200, 429]
        assert limits.local_windows.count("probe", int(frozen)) == 1


def test_a_request_is_counted_in_one_round_trip_under_the_caches_key(clock: Clock) -> None:
    # given: a real Redis as the shared cache, and a second nobody has counted in
    import redis
    from django.core.cache import cache

    require_redis()
    second = int(time.time()) + 10_000_000 + os.getpid()
    sent = mock.patch.object(
        redis.connection.AbstractConnection, "send_packed_command", autospec=True,
        side_effect=redis.connection.AbstractConnection.send_packed_command,
    )  # fmt: skip
    with override_settings(CACHES=redis_cache(REDIS_URL)):
        limits._shared_count("warm-up", second)  # the connection's own set-up commands
        with sent as sends:
            # when: three requests of one caller are counted
            counts = [limits._shared_count("probe-key", second) for _ in range(3)]
        # then: each took one round trip to Redis (Django's cache API takes three)
        assert counts == [1, 2, 3]
        assert sends.call_count == 3
        # and: the count sits under the cache's own key, as a plain integer the
        # cache API reads, and goes after its window
        assert cache.get(f"ratelimit:probe-key:{second}") == 3
        ttl = redis.Redis.from_url(REDIS_URL).ttl(cache.make_key(f"ratelimit:probe-key:{second}"))
        assert 0 < ttl <= limits.WINDOW_TTL_SECONDS


def test_without_redis_the_cache_api_counts(clock: Clock) -> None:
    # given: the in-process cache (no Redis configured)
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    second = int(time.time()) + 11_000_000
    with override_settings(CACHES=locmem):
        # when/then: requests are counted in it
        assert [limits._shared_count("probe-key", second) for _ in range(3)] == [1, 2, 3]


def test_the_caches_own_options_stay_with_the_cache(clock: Clock) -> None:
    # given: Django's Redis cache with options of its own (its pool and parser
    # classes, which are not the pool's keyword arguments) and an unhashable one
    require_redis()
    config = redis_cache(REDIS_URL)
    config["default"]["OPTIONS"].update(
        pool_class="redis.BlockingConnectionPool",
        parser_class="redis.connection._RESP2Parser",
        retry_on_error=[ConnectionError],
    )
    second = int(time.time()) + 12_000_000 + os.getpid()
    with override_settings(CACHES=config):
        # when/then: the limiter still counts in Redis
        assert [limits._shared_count("probe-options", second) for _ in range(2)] == [1, 2]
