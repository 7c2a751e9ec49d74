"""Nothing reads what a job returns, so no job stores it: with a Redis broker the
result backend is that Redis, and every stored result (a tier upgrade's, a sign-in
code's, an e-mail's) sat there for a day beside the queued jobs. The ping keeps
its answer: the worker tests read it to prove a worker runs."""

from __future__ import annotations

from django.conf import settings

from loyalty_platform.celery import app


def test_only_the_ping_keeps_its_result() -> None:
    # given every task the platform registers
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"tiers.evaluate", "tiers.send_change_notice", "ledger.seal_chain"} <= set(ours)

    # then only platform.ping stores what it returns
    assert sorted(name for name, task in ours.items() if not task.ignore_result) == [
        "platform.ping"
    ]
    assert settings.CELERY_TASK_IGNORE_RESULT is True
