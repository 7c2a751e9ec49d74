"""Periodic jobs run in-process when no broker is configured."""

from __future__ import annotations

from coalition.ledger import services
from coalition.ledger.models import ChainLink
from coalition.members.services import member_enrol
from loyalty_platform.inprocess_beat import InProcessBeat
from tenants.partners.models import Partner


def test_due_jobs_run_once_per_interval(db: None, partner_a: Partner) -> None:
    # given a posted transaction and a beat with the chain sealer due now
    member = member_enrol(email="beat@example.com")
    services.earn(member_id=member.pk, partner_id=partner_a.pk, points=10)
    beat = InProcessBeat({"seal": {"task": "ledger.seal_chain", "schedule": 60.0}})
    # when it ticks twice within the interval
    beat.run_due(now=beat.next_run["seal"])
    sealed = ChainLink.objects.count()
    services.earn(member_id=member.pk, partner_id=partner_a.pk, points=5)
    beat.run_due(now=beat.next_run["seal"] - 1)
    # then the job ran once: the first earn is sealed, the second waits for the next run
    assert sealed >= 1
    assert ChainLink.objects.count() == sealed
