"""Coalition goodwill, four eyes: an operator (support or admin) proposes points
the coalition gives a member, with a reason; at or below
``goodwill_approval_threshold()`` they are given at once, above it the proposal
waits for a *different* operator who may approve goodwill (admin or finance: the
people who answer for the liability) to approve it, which gives the points, or
reject it with a reason. A proposal left undecided for ``PROPOSAL_LIFETIME`` (7
days) expires.

Every step is one short transaction with its audit entry (``goodwill.propose``,
``goodwill.approve``, ``goodwill.reject``, ``goodwill.expire`` about the member).
The ledger posts the points (``coalition.ledger.services.goodwill_credit``:
``goodwill -N, wallet +N``, a lot with no issuer and the member's normal
expiry) under a ledger idempotency key derived from the proposal, so whatever
happens the proposal posts at most once. Approving locks the proposal row
(``SELECT ... FOR UPDATE``): of two approvers at once, the second finds it
decided; the same approver pressing twice gets the first result back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from coalition.audit.services import audit_record
from coalition.expiry.services import lot_expiry_for
from coalition.goodwill.errors import (
    GoodwillAlreadyDecided,
    GoodwillMemberNotActive,
    GoodwillNotAllowed,
    GoodwillPointsInvalid,
    GoodwillProposalExpired,
    GoodwillProposalUnknown,
    GoodwillReasonMissing,
    GoodwillReasonTooLong,
    GoodwillRequestReused,
    GoodwillSelfApproval,
)
from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.goodwill.selectors import PROPOSAL_LIFETIME, goodwill_approval_threshold
from coalition.ledger import services as ledger
from coalition.members.errors import MemberNotActive
from coalition.members.models import Member, MemberStatus
from coalition.operators.selectors import operator_can, operator_role
from loyalty_kernel import clock
from loyalty_kernel.idempotency import IdempotencyKey, request_hash

MAX_POINTS = 10_000_000
MAX_REASON_LENGTH = 200
LEDGER_SCOPE = "goodwill"
PROPOSE = "propose_goodwill"
APPROVE = "approve_goodwill"


@dataclass(frozen=True)
class GoodwillResult:
    proposal: GoodwillProposal
    replayed: bool = False

    @property
    def posted(self) -> bool:
        return self.proposal.status == GoodwillStatus.POSTED


def _label(user: Any) -> str:
    return str(getattr(user, "email", "") or getattr(user, "username", "") or user)[:254]


def _require(user: Any, capability: str) -> None:
    if not operator_can(operator_role(user=user), capability):
        raise GoodwillNotAllowed(_("Your role may not do this"))


def _clean_reason(reason: str, error: type[GoodwillReasonMissing]) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise error(_("Say why, for the member's record in the audit log"))
    if len(reason) > MAX_REASON_LENGTH:
        raise GoodwillReasonTooLong(
            _("Keep the reason to %(max)s characters") % {"max": MAX_REASON_LENGTH}
        )
    return reason


def _post(proposal: GoodwillProposal, member: Member, now: datetime) -> None:
    """Give the proposal's points (inside the caller's transaction)."""
    try:
        posting = ledger.goodwill_credit(
            member_id=member.pk,
            points=int(proposal.points),
            idempotency=IdempotencyKey(LEDGER_SCOPE, f"proposal-{proposal.pk}"),
            expires_at=lot_expiry_for(member.pk, now),
            memo=proposal.reason,
            now=now,
        )
    except MemberNotActive as error:
        raise GoodwillMemberNotActive(
            _("The member is blocked or erased: no points can be given")
        ) from error
    proposal.status = GoodwillStatus.POSTED
    proposal.ledger_transaction_id = posting.transaction_id


def _audit(
    user: Any, action: str, proposal: GoodwillProposal, member: Member, **extra: Any
) -> None:
    audit_record(
        actor=user,
        partner_id=None,
        action=action,
        target=("member", member.member_number),
        after={
            "proposal": proposal.pk,
            "points": int(proposal.points),
            "reason": proposal.reason,
            "status": proposal.status,
            "transaction": proposal.ledger_transaction_id,
            **extra,
        },
    )


def goodwill_propose(
    *,
    member_id: int,
    points: int,
    reason: str,
    acting_user: Any,
    request_key: str,
    now: datetime | None = None,
) -> GoodwillResult:
    """Propose giving ``points`` of coalition goodwill to the member. At or below the
    threshold they are given at once; above it the proposal waits for a second
    operator. The same ``request_key`` with the same request returns the first
    result (a form submitted twice gives once)."""
    _require(acting_user, PROPOSE)
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise GoodwillPointsInvalid(_("Enter a whole number of points above 0"))
    if points > MAX_POINTS:
        raise GoodwillPointsInvalid(
            _("Give at most %(max)s points at a time") % {"max": f"{MAX_POINTS:,}"}
        )
    reason = _clean_reason(reason, GoodwillReasonMissing)
    now = now or clock.now()
    digest = request_hash(
        "goodwill_propose",
        {"member": member_id, "points": points, "reason": reason, "by": acting_user.pk},
    )

    def attempt() -> GoodwillResult:
        with transaction.atomic():
            done = GoodwillProposal.objects.filter(request_key=request_key).first()
            if done is not None:
                if done.request_hash != digest:
                    raise GoodwillRequestReused(_("This form was already sent with other values"))
                return GoodwillResult(done, replayed=True)
            member = Member.objects.filter(pk=member_id).first()
            if member is None or member.status != MemberStatus.ACTIVE:
                raise GoodwillMemberNotActive(
                    _("The member is blocked or erased: no points can be given")
                )
            needs_approval = points > goodwill_approval_threshold()
            proposal = GoodwillProposal.objects.create(
                member=member,
                points=points,
                reason=reason,
                proposed_by=acting_user,
                proposed_by_label=_label(acting_user),
                created_at=now,
                expires_at=now + PROPOSAL_LIFETIME,
                needs_approval=needs_approval,
                request_key=request_key,
                request_hash=digest,
            )
            if not needs_approval:
                _post(proposal, member, now)
                proposal.decided_at = now
                proposal.save(update_fields=["status", "ledger_transaction", "decided_at"])
            _audit(acting_user, "goodwill.propose", proposal, member)
            return GoodwillResult(proposal)

    return ledger.retrying(attempt, nested=connection.in_atomic_block)


def _lock(proposal_id: int) -> GoodwillProposal:
    proposal = (
        GoodwillProposal.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise GoodwillProposalUnknown(_("There is no such proposal"))
    return proposal


def _decidable(proposal: GoodwillProposal, user: Any, now: datetime) -> None:
    if proposal.proposed_by_id == user.pk:
        raise GoodwillSelfApproval(
            _("You proposed this: another operator must approve or reject it")
        )
    if proposal.status != GoodwillStatus.PROPOSED:
        raise GoodwillAlreadyDecided(_("This proposal was already decided"))


def _expire_if_due(proposal: GoodwillProposal, now: datetime) -> bool:
    """Store the expiry of a proposal past its date (audited); True if it was due."""
    if proposal.expires_at > now:
        return False
    proposal.status = GoodwillStatus.EXPIRED
    proposal.decided_at = now
    proposal.save(update_fields=["status", "decided_at"])
    _audit(None, "goodwill.expire", proposal, proposal.member)
    return True


def goodwill_approve(
    *, proposal_id: int, acting_user: Any, now: datetime | None = None
) -> GoodwillResult:
    """Approve a waiting proposal: the member gets the points. Only another operator
    than the proposer, with the approve capability; at most once."""
    _require(acting_user, APPROVE)
    now = now or clock.now()
    expired = False

    def attempt() -> GoodwillResult:
        nonlocal expired
        with transaction.atomic():
            proposal = _lock(proposal_id)
            if (
                proposal.status == GoodwillStatus.POSTED
                and proposal.decided_by_id == acting_user.pk
            ):
                return GoodwillResult(proposal, replayed=True)  # the same click, twice
            _decidable(proposal, acting_user, now)
            if _expire_if_due(proposal, now):
                expired = True
                return GoodwillResult(proposal)
            _post(proposal, proposal.member, now)
            proposal.decided_by = acting_user
            proposal.decided_by_label = _label(acting_user)
            proposal.decided_at = now
            proposal.save(
                update_fields=[
                    "status", "ledger_transaction", "decided_by", "decided_by_label",
                    "decided_at",
                ]
            )  # fmt: skip
            _audit(acting_user, "goodwill.approve", proposal, proposal.member)
            return GoodwillResult(proposal)

    result = ledger.retrying(attempt, nested=connection.in_atomic_block)
    if expired:  # committed as expired; the approver is told
        raise GoodwillProposalExpired(_("This proposal expired before anyone approved it"))
    return result


def goodwill_reject(
    *, proposal_id: int, acting_user: Any, reason: str, now: datetime | None = None
) -> GoodwillResult:
    """Reject a waiting proposal with a reason: nothing is given."""
    _require(acting_user, APPROVE)
    reason = _clean_reason(reason, GoodwillReasonMissing)
    now = now or clock.now()
    with transaction.atomic():
        proposal = _lock(proposal_id)
        if (
            proposal.status == GoodwillStatus.REJECTED
            and proposal.decided_by_id == acting_user.pk
            and proposal.decision_reason == reason
        ):
            return GoodwillResult(proposal, replayed=True)
        _decidable(proposal, acting_user, now)
        if not _expire_if_due(proposal, now):
            proposal.status = GoodwillStatus.REJECTED
            proposal.decided_by = acting_user
            proposal.decided_by_label = _label(acting_user)
            proposal.decided_at = now
            proposal.decision_reason = reason
            proposal.save(
                update_fields=[
                    "status", "decided_by", "decided_by_label", "decided_at", "decision_reason",
                ]
            )  # fmt: skip
            _audit(acting_user, "goodwill.reject", proposal, proposal.member, decision=reason)
            return GoodwillResult(proposal)
    raise GoodwillProposalExpired(_("This proposal expired before anyone decided it"))
