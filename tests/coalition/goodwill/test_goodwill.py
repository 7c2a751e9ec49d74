"""Coalition goodwill, four eyes: at or below the threshold a support operator's
proposal gives the points at once; above it another operator (admin or finance)
approves or rejects it, never the proposer; a proposal posts at most once (double
press, replayed form), never for a blocked member, and expires undecided. The
points are a lot with no issuer, balanced against the coalition's goodwill
account; settlement pays the redeemer for them, charges no issuer in netting and
gives no partner a breakage share when they expire."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coalition.audit.models import AuditEntry
from coalition.goodwill import services as goodwill
from coalition.goodwill.errors import (
    GoodwillAlreadyDecided,
    GoodwillMemberNotActive,
    GoodwillNotAllowed,
    GoodwillPointsInvalid,
    GoodwillProposalExpired,
    GoodwillReasonMissing,
    GoodwillRequestReused,
    GoodwillSelfApproval,
)
from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.goodwill.selectors import (
    goodwill_approval_threshold,
    proposals_decided,
    proposals_pending,
    status_of,
)
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.models import Account, AccountKind, Entry, Lot, TransactionKind
from coalition.ledger.verification import verify
from coalition.members import services as member_services
from coalition.members.models import Member
from coalition.settlement.models import LineKind
from coalition.settlement.netting import bilateral_obligations
from coalition.settlement.reports import liability_report
from tenants.partners.models import Partner
from tests.testkit.concurrency import books_report
from tests.testkit.operator import operator
from tests.testkit.settlement import (
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    statement_of,
)

pytestmark = pytest.mark.django_db


def _propose(user: Any, member_id: int, points: int, key: str | None = None) -> Any:
    return goodwill.goodwill_propose(
        member_id=member_id,
        points=points,
        reason="parcel lost by the courier",
        acting_user=user,
        request_key=key or uuid.uuid4().hex,
    )


def test_the_threshold_is_one_thousand_points_unless_set(settings: Any) -> None:
    assert goodwill_approval_threshold() == 1_000
    settings.LOYALTY_GOODWILL_APPROVAL_THRESHOLD = 250
    assert goodwill_approval_threshold() == 250


def test_at_the_threshold_support_gives_points_at_once_as_a_lot_with_no_issuer() -> None:
    support = operator("support")
    member = new_member("gw")
    result = _propose(support, member, 1_000)
    proposal = result.proposal
    assert proposal.status == GoodwillStatus.POSTED
    assert not proposal.needs_approval
    assert ledger_selectors.balance(member) == 1_000
    lot = Lot.objects.get(member_id=member)
    assert lot.issuer_id is None
    assert lot.points == 1_000
    assert lot.expires_at is not None  # the member's normal lot expiry
    tx = proposal.ledger_transaction
    assert tx is not None
    assert tx.kind == TransactionKind.GOODWILL_CREDIT
    assert tx.partner_id is None
    legs = sorted(Entry.objects.filter(transaction=tx).values_list("account__kind", "amount"))
    assert legs == [(AccountKind.GOODWILL, -1_000), (AccountKind.WALLET, 1_000)]
    assert Account.objects.filter(kind=AccountKind.GOODWILL).count() == 1
    audit = AuditEntry.objects.get(action="goodwill.propose", object_id=_number(member))
    assert audit.after["status"] == "posted"
    assert audit.after["points"] == 1_000
    report = books_report()
    assert report.unbalanced_transactions == []
    assert report.wallets_off_lots == []
    assert verify().ok


def _number(member_id: int) -> str:
    return Member.objects.get(pk=member_id).member_number


def test_above_the_threshold_it_waits_and_another_operator_approves_it() -> None:
    support, finance = operator("support"), operator("finance")
    member = new_member("gw")
    proposal = _propose(support, member, 5_000).proposal
    assert proposal.status == GoodwillStatus.PROPOSED
    assert proposal.needs_approval
    assert ledger_selectors.balance(member) == 0
    assert list(proposals_pending(now=timezone.now())) == [proposal]

    approved = goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=finance)

    assert approved.posted
    assert approved.proposal.decided_by_id == finance.pk
    assert ledger_selectors.balance(member) == 5_000
    assert AuditEntry.objects.filter(action="goodwill.approve").count() == 1
    assert proposal not in proposals_pending(now=timezone.now())


def test_the_proposer_never_approves_their_own_even_as_admin() -> None:
    admin = operator("admin")
    member = new_member("gw")
    proposal = _propose(admin, member, 5_000).proposal
    with pytest.raises(GoodwillSelfApproval):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=admin)
    with pytest.raises(GoodwillSelfApproval):
        goodwill.goodwill_reject(proposal_id=proposal.pk, acting_user=admin, reason="no")
    assert ledger_selectors.balance(member) == 0
    assert GoodwillProposal.objects.get(pk=proposal.pk).status == GoodwillStatus.PROPOSED


@pytest.mark.parametrize("role", ["support", "read_only"])
def test_roles_without_the_approve_capability_are_refused(role: str) -> None:
    proposal = _propose(operator("support"), new_member("gw"), 5_000).proposal
    with pytest.raises(GoodwillNotAllowed):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=operator(role))
    assert GoodwillProposal.objects.get(pk=proposal.pk).status == GoodwillStatus.PROPOSED


@pytest.mark.parametrize("role", ["finance", "read_only"])
def test_roles_without_the_propose_capability_are_refused(role: str) -> None:
    member = new_member("gw")
    with pytest.raises(GoodwillNotAllowed):
        _propose(operator(role), member, 10)
    assert not GoodwillProposal.objects.filter(member_id=member).exists()


def test_approving_twice_posts_once_and_a_second_approver_finds_it_decided() -> None:
    support, admin, finance = operator("support"), operator("admin"), operator("finance")
    member = new_member("gw")
    proposal = _propose(support, member, 2_500).proposal
    first = goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=admin)
    again = goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=admin)
    assert again.replayed
    assert again.proposal.ledger_transaction_id == (first.proposal.ledger_transaction_id)
    with pytest.raises(GoodwillAlreadyDecided):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=finance)
    with pytest.raises(GoodwillAlreadyDecided):
        goodwill.goodwill_reject(proposal_id=proposal.pk, acting_user=finance, reason="late")
    assert ledger_selectors.balance(member) == 2_500
    assert AuditEntry.objects.filter(action="goodwill.approve").count() == 1


def test_a_rejection_needs_a_reason_and_gives_nothing() -> None:
    support, finance = operator("support"), operator("finance")
    member = new_member("gw")
    proposal = _propose(support, member, 3_000).proposal
    with pytest.raises(GoodwillReasonMissing):
        goodwill.goodwill_reject(proposal_id=proposal.pk, acting_user=finance, reason="  ")
    rejected = goodwill.goodwill_reject(
        proposal_id=proposal.pk, acting_user=finance, reason="already compensated"
    ).proposal
    assert rejected.status == GoodwillStatus.REJECTED
    assert rejected.decision_reason == "already compensated"
    assert ledger_selectors.balance(member) == 0
    with pytest.raises(GoodwillAlreadyDecided):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=operator("admin"))
    assert rejected in proposals_decided(now=timezone.now())


def test_a_blocked_member_at_approval_time_gets_nothing() -> None:
    support, finance = operator("support"), operator("finance")
    member = new_member("gw")
    proposal = _propose(support, member, 4_000).proposal
    member_services.member_status_change(
        member_id=member, status="blocked", reason="card stolen", acting_user=support
    )
    with pytest.raises(GoodwillMemberNotActive):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=finance)
    assert ledger_selectors.balance(member) == 0
    assert GoodwillProposal.objects.get(pk=proposal.pk).status == GoodwillStatus.PROPOSED
    assert not Lot.objects.filter(member_id=member).exists()
    # and a blocked member cannot be proposed either
    with pytest.raises(GoodwillMemberNotActive):
        _propose(support, member, 10)


def test_an_undecided_proposal_expires_after_seven_days() -> None:
    support, finance = operator("support"), operator("finance")
    member = new_member("gw")
    proposal = goodwill.goodwill_propose(
        member_id=member, points=5_000, reason="late", acting_user=support,
        request_key=uuid.uuid4().hex, now=timezone.now() - timedelta(days=8),
    ).proposal  # fmt: skip
    assert status_of(proposal, timezone.now()) == GoodwillStatus.EXPIRED
    assert proposal not in proposals_pending(now=timezone.now())
    with pytest.raises(GoodwillProposalExpired):
        goodwill.goodwill_approve(proposal_id=proposal.pk, acting_user=finance)
    stored = GoodwillProposal.objects.get(pk=proposal.pk)
    assert stored.status == GoodwillStatus.EXPIRED
    assert stored.ledger_transaction_id is None
    assert ledger_selectors.balance(member) == 0


def test_a_form_sent_twice_proposes_once_and_other_values_are_refused() -> None:
    support = operator("support")
    member = new_member("gw")
    first = _propose(support, member, 500, key="form-1")
    again = _propose(support, member, 500, key="form-1")
    assert again.replayed
    assert again.proposal.pk == first.proposal.pk
    assert ledger_selectors.balance(member) == 500
    with pytest.raises(GoodwillRequestReused):
        _propose(support, member, 600, key="form-1")


@pytest.mark.parametrize("points", [0, -5, 10_000_001])
def test_points_out_of_range_are_refused(points: int) -> None:
    with pytest.raises(GoodwillPointsInvalid):
        _propose(operator("support"), new_member("gw"), points)


def test_goodwill_redeemed_at_a_partner_is_paid_to_it_and_charged_to_no_issuer(
    partner_a: Partner, partner_b: Partner
) -> None:
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="0.8")
    known_terms(partner_b, issuance_price="1.0", reimbursement_rate="0.5")
    start = close_everything_before()
    member = new_member("gw-settle")
    _propose(operator("support"), member, 600)
    ledger.burn(member_id=member, partner_id=partner_b.pk, points=400)

    period = close_now()

    # the redeemer is reimbursed for the goodwill points honoured there
    statement = statement_of(period, partner_b)
    redeemed = [line for line in statement.lines.all() if line.kind == LineKind.REDEEMED]
    assert [(line.points, line.amount) for line in redeemed] == [(400, -200)]
    # no partner owes anyone for them: netting has no issuer to charge
    assert bilateral_obligations(start.end_watermark, period.end_watermark) == []
    # the liability shows the 200 left as coalition goodwill, in the totals
    report = liability_report()
    assert report.goodwill_points >= 200
    assert all(line.issuer_id is not None for line in report.lines)


def test_expired_goodwill_gives_no_partner_a_breakage_share(partner_a: Partner) -> None:
    known_terms(partner_a, issuance_price="1.0", reimbursement_rate="1",
                breakage_share_percent="50")  # fmt: skip
    close_everything_before()
    member = new_member("gw-expire")
    now = timezone.now()
    ledger.goodwill_credit(member_id=member, points=300, expires_at=now + timedelta(seconds=1),
                           now=now)  # fmt: skip
    assert ledger.lots_expire(now=now + timedelta(days=1)) >= 300

    period = close_now()

    statement = period.statements.filter(partner=partner_a).first()
    shares = [] if statement is None else [
        line for line in statement.lines.all() if line.kind == LineKind.BREAKAGE_SHARE
    ]  # fmt: skip
    assert shares == []
    assert ledger_selectors.balance(member) == 0
    assert verify().ok
