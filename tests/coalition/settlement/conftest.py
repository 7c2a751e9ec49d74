"""Fixtures of the settlement tests: the Stripe fake and eager Celery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tests.testkit.settlement import running_stripe_fake


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripeServer]:
    """A fresh Stripe fake (its own counts) and settings pointing the SDK at it."""
    with running_stripe_fake() as server:
        yield server


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run in the calling thread, whatever broker the environment names."""
    from loyalty_platform.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before
