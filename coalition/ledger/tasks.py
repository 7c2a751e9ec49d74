"""Periodic ledger jobs. Thin: each calls a service. All are idempotent, so they
acknowledge late (a worker killed mid-task leaves the message to be redone)."""

from __future__ import annotations

from celery import shared_task

from coalition.ledger import chain, services, snapshots
from tenants.rewards.services import points_payments_expire


@shared_task(name="ledger.seal_chain", acks_late=True)
def seal_chain() -> int:
    return chain.seal_all()


@shared_task(name="ledger.expire_holds", acks_late=True)
def expire_holds() -> int:
    """Release expired holds, then mark the points payments behind them expired
    (the rewards app owns those rows; this job is when their holds change)."""
    expired = services.holds_expire()
    points_payments_expire()
    return expired


@shared_task(name="ledger.expire_lots", acks_late=True)
def expire_lots() -> int:
    return services.lots_expire()


@shared_task(name="ledger.snapshot_accounts", acks_late=True)
def snapshot_accounts() -> int:
    return snapshots.snapshot_derived_accounts()
