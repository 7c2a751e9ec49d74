"""Reads of coalition goodwill: the approval threshold, how long a proposal waits,
the queue of proposals waiting for a second operator and the recent decisions.

A proposal still ``proposed`` after its ``expires_at`` reads as expired: nothing
needs to run for it to stop being approvable (``services`` refuses it and stores
the status when someone tries)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.rules.selectors import coalition_rules

PROPOSAL_LIFETIME = timedelta(days=7)


def goodwill_approval_threshold() -> int:
    """Points an operator may give at once without a second operator's approval: the
    coalition rule an operator admin sets (``coalition.rules``; before that, setting
    ``LOYALTY_GOODWILL_APPROVAL_THRESHOLD``, default 1,000). Above it, the proposal
    waits for another operator who may approve goodwill."""
    return coalition_rules().goodwill_approval_threshold


def status_of(proposal: GoodwillProposal, now: datetime) -> str:
    """The proposal's status as of ``now``: a waiting one past its expiry is expired."""
    if proposal.status == GoodwillStatus.PROPOSED and proposal.expires_at <= now:
        return GoodwillStatus.EXPIRED
    return proposal.status


def proposals_pending(*, now: datetime) -> QuerySet[GoodwillProposal]:
    """Proposals waiting for a second operator, oldest first."""
    return (
        GoodwillProposal.objects.filter(status=GoodwillStatus.PROPOSED, expires_at__gt=now)
        .select_related("member")
        .order_by("created_at", "id")
    )


def proposals_decided(*, now: datetime) -> QuerySet[GoodwillProposal]:
    """Everything no longer waiting (given, rejected, expired), newest first."""
    return (
        GoodwillProposal.objects.filter(~Q(status=GoodwillStatus.PROPOSED) | Q(expires_at__lte=now))
        .select_related("member")
        .order_by("-id")
    )


def proposals_all() -> QuerySet[GoodwillProposal]:
    return GoodwillProposal.objects.select_related("member").order_by("-id")


def proposals_of_member(member_id: int) -> QuerySet[GoodwillProposal]:
    return GoodwillProposal.objects.filter(member_id=member_id).order_by("-id")
