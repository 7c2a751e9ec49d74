"""Every coalition goodwill page of the operator console per role: admin, finance,
support, read-only, a partner's staff (signed in to its console), a member
(signed in to the portal) and an anonymous visitor. Every operator reads the
queue; admins and support propose; admins and finance approve or reject. Operator
staff without the capability get 403; anyone else is sent to the operator log-in.
A denied request changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from coalition.audit.models import AuditEntry
from coalition.goodwill import services as goodwill
from coalition.goodwill.models import GoodwillProposal
from coalition.ledger.models import Lot
from coalition.members.models import Member
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.operator import OPERATORS, ROLES, assert_answer, login_as, operator

pytestmark = pytest.mark.django_db

PROPOSERS = frozenset({"admin", "support"})
APPROVERS = frozenset({"admin", "finance"})


def _state() -> tuple[Any, ...]:
    return (
        sorted(GoodwillProposal.objects.values_list("id", "status", "ledger_transaction_id")),
        AuditEntry.objects.count(),
        Lot.objects.count(),
    )


Request = Callable[[Client, Member, GoodwillProposal], Any]
GIVE = {"points": "10", "reason": "parcel lost", "request_key": "perm-key"}

PAGES: dict[str, tuple[Request, frozenset[str]]] = {
    "queue": (lambda c, m, p: c.get("/operator/members/goodwill/"), OPERATORS),
    "queue (csv)": (lambda c, m, p: c.get("/operator/members/goodwill/", {"format": "csv"}),
                    OPERATORS),
    "propose (form)": (lambda c, m, p: c.get(f"/operator/members/{m.member_number}/goodwill/"),
                       PROPOSERS),
    "propose": (lambda c, m, p: c.post(f"/operator/members/{m.member_number}/goodwill/", GIVE),
                PROPOSERS),
    "approve": (lambda c, m, p: c.post(f"/operator/members/goodwill/{p.pk}/approve/"),
                APPROVERS),
    "reject": (lambda c, m, p: c.post(f"/operator/members/goodwill/{p.pk}/reject/",
                                      {"reason": "already compensated"}), APPROVERS),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_goodwill_page_answers_each_role(partner_a: Partner, page: str, role: str) -> None:
    request, allowed = PAGES[page]
    # given a member with a proposal waiting for approval, and someone in this role
    member = funded_member(partner_a, 25, prefix="gw-perm")
    proposal = goodwill.goodwill_propose(
        member_id=member.pk, points=5_000, reason="late parcel", acting_user=operator("support"),
        request_key=uuid.uuid4().hex,
    ).proposal  # fmt: skip
    client, _user = login_as(role, partner_a)
    before = _state()
    # when they open the page or press its button
    response = request(client, member, proposal)
    # then the roles with the capability get it, and everyone else is refused
    if assert_answer(response, role=role, allowed=allowed, page=page):
        return
    # and nothing changed
    assert _state() == before


def test_the_goodwill_queue_is_in_every_operators_navigation(partner_a: Partner) -> None:
    for role in ("admin", "support", "read_only", "finance"):
        client, _ = login_as(role, partner_a)
        html = client.get("/operator/partners/").content.decode()
        assert 'href="/operator/members/goodwill/"' in html, role
