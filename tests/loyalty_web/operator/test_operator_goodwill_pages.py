"""The coalition goodwill pages answer as the rules say: a proposal form sent twice
proposes once; a blocked member is refused with words next to the form and gets
nothing; approve pressed twice gives once; the queue's CSV lists every proposal;
the member's page offers the form to support only and names goodwill in its
support history; the liability report shows outstanding goodwill as its own row,
in points and not valued."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from coalition.goodwill import services as goodwill
from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.members import services as member_services
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.operator import login_as, operator, signed_in

pytestmark = pytest.mark.django_db


def _csv(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def test_a_proposal_form_sent_twice_gives_once(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    client, _ = login_as("support", partner_a)
    form = {"points": "300", "reason": "late parcel", "request_key": uuid.uuid4().hex}
    url = f"/operator/members/{member.member_number}/goodwill/"
    first = client.post(url, form)
    second = client.post(url, form)
    assert first.status_code == second.status_code == 302
    assert GoodwillProposal.objects.filter(member=member).count() == 1
    assert ledger_selectors.balance(member.pk) == 310
    page = client.get(f"/operator/members/{member.member_number}/").content.decode()
    assert "Coalition goodwill given" in page
    assert "Coalition goodwill" in page  # the lot's issuer column


def test_a_blocked_member_is_refused_with_words_and_gets_nothing(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    client, agent = login_as("support", partner_a)
    member_services.member_status_change(
        member_id=member.pk, status="blocked", reason="card stolen", acting_user=agent
    )
    url = f"/operator/members/{member.member_number}/goodwill/"
    assert "no points can be given" in client.get(url).content.decode()
    response = client.post(
        url, {"points": "300", "reason": "late parcel", "request_key": uuid.uuid4().hex}
    )
    assert response.status_code == 400
    assert "The member is blocked or erased" in response.content.decode()
    assert not GoodwillProposal.objects.filter(member=member).exists()
    assert ledger_selectors.balance(member.pk) == 10


def test_approve_pressed_twice_gives_once_and_the_csv_lists_it(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    proposal = goodwill.goodwill_propose(
        member_id=member.pk, points=2_000, reason="late parcel", acting_user=operator("support"),
        request_key=uuid.uuid4().hex,
    ).proposal  # fmt: skip
    client = signed_in(operator("finance"))
    queue = client.get("/operator/members/goodwill/").content.decode()
    assert f"/operator/members/goodwill/{proposal.pk}/approve/" in queue
    for _ in range(2):
        response = client.post(f"/operator/members/goodwill/{proposal.pk}/approve/")
        assert response.status_code == 302
    assert ledger_selectors.balance(member.pk) == 2_010
    assert GoodwillProposal.objects.get(pk=proposal.pk).status == GoodwillStatus.POSTED
    rows = _csv(client.get("/operator/members/goodwill/", {"format": "csv"}))
    assert rows[0][:5] == ["proposal", "member", "points", "reason", "status"]
    mine = [row for row in rows[1:] if row[0] == str(proposal.pk)]
    assert [row[1:5] for row in mine] == [[member.member_number, "2000", "late parcel", "posted"]]


def test_the_proposer_sees_no_buttons_for_their_own_proposal(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    admin = operator("admin")
    proposal = goodwill.goodwill_propose(
        member_id=member.pk, points=2_000, reason="late parcel", acting_user=admin,
        request_key=uuid.uuid4().hex,
    ).proposal  # fmt: skip
    client = signed_in(admin)
    queue = client.get("/operator/members/goodwill/").content.decode()
    assert f"/operator/members/goodwill/{proposal.pk}/approve/" not in queue
    assert "Your proposal: another operator decides it" in queue
    # and pressing approve anyway is refused with the rule's words
    response = client.post(f"/operator/members/goodwill/{proposal.pk}/approve/", follow=True)
    assert "another operator must approve or reject it" in response.content.decode()
    assert ledger_selectors.balance(member.pk) == 10


@pytest.mark.parametrize(("role", "offered"), [("support", True), ("read_only", False)])
def test_the_member_page_offers_goodwill_to_proposers_only(
    partner_a: Partner, role: str, offered: bool
) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    client, _ = login_as(role, partner_a)
    page = client.get(f"/operator/members/{member.member_number}/").content.decode()
    assert ("Give points (coalition goodwill)" in page) is offered


def test_the_liability_report_shows_goodwill_apart_in_points(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, prefix="gw-page")
    ledger.goodwill_credit(member_id=member.pk, points=777)
    client, _ = login_as("finance", partner_a)
    page = client.get("/operator/reports/").content.decode()
    assert "Coalition goodwill" in page
    assert "not valued" in page
    rows = _csv(client.get("/operator/reports/", {"format": "csv"}))
    goodwill_rows = [row for row in rows if row[0] == "goodwill"]
    assert len(goodwill_rows) == 1
    assert int(goodwill_rows[0][4]) >= 777
    assert goodwill_rows[0][6] == ""  # no value
