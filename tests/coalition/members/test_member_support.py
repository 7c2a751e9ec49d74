"""The operator's member support writes: block and unblock with a reason, and the
erasure an operator confirms by typing the member's number. Each is audited with
the operator as actor and the reason; a second press changes and records
nothing; bad input is a typed error that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.ledger import services as ledger
from coalition.ledger.models import Entry, Transaction
from coalition.ledger.selectors import balance
from coalition.member_auth.selectors import member_for_session
from coalition.members.errors import (
    ErasureNotConfirmed,
    InvalidMemberData,
    MemberNotActive,
    MemberSupportReasonMissing,
    UnknownMember,
)
from coalition.members.models import Member, MemberStatus
from coalition.members.services import (
    member_add_card,
    member_enrol,
    member_erase_by_operator,
    member_status_change,
)
from tenants.partners.models import Partner
from tests.testkit.operator import operator

pytestmark = pytest.mark.django_db


def _state(member: Member) -> tuple[Any, ...]:
    member.refresh_from_db()
    return (member.status, member.email, member.phone, AuditEntry.objects.count())


def test_blocking_records_the_reason_and_stops_earning_spending_and_signing_in(
    partner_a: Partner,
) -> None:
    # given an active member with points and a support operator
    ann = member_enrol(email="ann-support@example.com")
    ledger.earn(member_id=ann.pk, partner_id=partner_a.pk, points=100)
    agent = operator("support")
    # when support blocks her with a reason
    member, changed = member_status_change(
        member_id=ann.pk, status="blocked", reason="  card reported stolen ", acting_user=agent
    )
    # then she is blocked, and the audit log says who, what and why
    assert changed
    assert member.status == MemberStatus.BLOCKED
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None
    assert (entry.action, entry.object_type, entry.object_id, entry.partner_id) == (
        "member.block", "member", ann.member_number, None,
    )  # fmt: skip
    assert (entry.actor_id, entry.before, entry.after) == (
        agent.pk, {"status": "active"}, {"status": "blocked", "reason": "card reported stolen"},
    )  # fmt: skip
    # and the domain refuses what a blocked member would do
    with pytest.raises(MemberNotActive):
        ledger.earn(member_id=ann.pk, partner_id=partner_a.pk, points=5)
    with pytest.raises(MemberNotActive):
        ledger.burn(member_id=ann.pk, partner_id=partner_a.pk, points=5)
    with pytest.raises(MemberNotActive):
        member_add_card(member_id=ann.pk, card_number="778899")
    assert member_for_session(ann.pk, 0) is None
    assert balance(ann.pk) == 100
    # when unblocked, then she earns and signs in again
    member, changed = member_status_change(
        member_id=ann.pk, status="active", reason="card found", acting_user=agent
    )
    assert changed
    assert member.is_active
    assert ledger.earn(member_id=ann.pk, partner_id=partner_a.pk, points=5).balance_after == 105
    assert member_for_session(ann.pk, 0) is not None
    assert list(
        AuditEntry.objects.filter(object_id=ann.member_number)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["member.block", "member.unblock"]


def test_a_second_press_of_block_changes_and_records_nothing() -> None:
    # given a member blocked once
    bob = member_enrol(email="bob-support@example.com")
    agent = operator("support")
    member_status_change(member_id=bob.pk, status="blocked", reason="fraud", acting_user=agent)
    before = _state(bob)
    # when the same button is pressed again
    member, changed = member_status_change(
        member_id=bob.pk, status="blocked", reason="fraud", acting_user=agent
    )
    # then nothing changed and nothing more was recorded
    assert not changed
    assert member.status == MemberStatus.BLOCKED
    assert _state(bob) == before


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        ("blocked", "", MemberSupportReasonMissing),
        ("blocked", "   ", MemberSupportReasonMissing),
        ("blocked", "x" * 501, MemberSupportReasonMissing),
        ("erased", "because", InvalidMemberData),
        ("frozen", "because", InvalidMemberData),
    ],
)
def test_a_refused_status_change_is_typed_and_changes_nothing(
    status: str, reason: str, error: type[Exception]
) -> None:
    # given an active member
    cid = member_enrol(email=f"cid-{status}-{len(reason)}@example.com")
    agent = operator("support")
    before = _state(cid)
    # when the change is refused
    with pytest.raises(error) as refused:
        member_status_change(member_id=cid.pk, status=status, reason=reason, acting_user=agent)
    # then it says which field, and nothing changed
    assert refused.value.field in ("reason", "status")  # type: ignore[attr-defined]
    assert _state(cid) == before


def test_an_erased_or_unknown_member_cannot_be_blocked() -> None:
    dee = member_enrol(email="dee-support@example.com")
    agent = operator("support")
    member_erase_by_operator(
        member_id=dee.pk, confirmation=dee.member_number, reason="asked", acting_user=agent
    )
    before = _state(dee)
    with pytest.raises(MemberNotActive):
        member_status_change(member_id=dee.pk, status="active", reason="x", acting_user=agent)
    with pytest.raises(UnknownMember):
        member_status_change(member_id=10**12, status="blocked", reason="x", acting_user=agent)
    assert _state(dee) == before


def test_erasure_needs_the_typed_number_and_a_reason_and_a_refusal_changes_nothing(
    partner_a: Partner,
) -> None:
    # given a member with points
    eve = member_enrol(email="eve-support@example.com", phone="+34600111222")
    ledger.earn(member_id=eve.pk, partner_id=partner_a.pk, points=40)
    agent = operator("support")
    before = _state(eve)
    # when the confirmation is wrong or the reason missing
    with pytest.raises(ErasureNotConfirmed) as wrong:
        member_erase_by_operator(
            member_id=eve.pk, confirmation="0000000000", reason="asked", acting_user=agent
        )
    with pytest.raises(MemberSupportReasonMissing):
        member_erase_by_operator(
            member_id=eve.pk, confirmation=eve.member_number, reason="", acting_user=agent
        )
    # then the refusal names the field and nothing changed
    assert wrong.value.field == "confirmation"
    assert _state(eve) == before


def test_erasure_keeps_the_ledger_audits_without_personal_data_and_happens_once(
    partner_a: Partner,
) -> None:
    # given a member with ledger history
    fay = member_enrol(email="fay-support@example.com", phone="+34600333444")
    ledger.earn(member_id=fay.pk, partner_id=partner_a.pk, points=70)
    ledger.burn(member_id=fay.pk, partner_id=partner_a.pk, points=20)
    rows = (Transaction.objects.count(), Entry.objects.count())
    agent = operator("admin")
    # when an operator erases her, typing her number with spaces
    spaced = f"{fay.member_number[:5]} {fay.member_number[5:]}"
    member, erased = member_erase_by_operator(
        member_id=fay.pk, confirmation=spaced, reason="asked by letter", acting_user=agent
    )
    # then her personal data is gone, her ledger and balance stay
    assert erased
    assert member.status == MemberStatus.ERASED
    assert member.phone is None
    assert "fay-support" not in member.email
    assert (Transaction.objects.count(), Entry.objects.count()) == rows
    assert balance(fay.pk) == 50
    # and the audit entry names her number and the reason, never her address
    entry = AuditEntry.objects.get(action="member.erase", object_id=fay.member_number)
    assert entry.actor_id == agent.pk
    assert entry.after["reason"] == "asked by letter"
    assert "fay-support" not in str(entry.before) + str(entry.after)
    # when the button is pressed again, then nothing more happens
    before = _state(fay)
    member, erased = member_erase_by_operator(
        member_id=fay.pk, confirmation=spaced, reason="asked by letter", acting_user=agent
    )
    assert not erased
    assert _state(fay) == before
