"""What the operator's member support pages show and do: the look-up box, the
member's page (whole or masked e-mail by role, status and what it stops, balance,
expiring points, support history), the history at every partner with filters,
keyset pages and CSV, block and unblock with a reason (a second press records
nothing), and the erasure's check page and typed confirmation. The member page's
query count does not grow with the member's history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coalition.audit.models import AuditEntry
from coalition.ledger import services as ledger
from coalition.members.models import Member, MemberStatus
from coalition.members.services import member_add_card
from tenants.partners.models import Partner
from tests.testkit.api import funded_member
from tests.testkit.operator import login_as

pytestmark = pytest.mark.django_db


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_look_up_finds_by_email_number_and_card_and_says_when_nobody_matches(
    partner_a: Partner,
) -> None:
    client, _ = login_as("support", partner_a)
    member = funded_member(partner_a, 10, prefix="opfind")
    member_add_card(member_id=member.pk, card_number="CARD4455")
    page = f"/operator/members/{member.member_number}/"
    assert client.get("/operator/members/", {"q": member.email.upper()})["Location"] == page
    assert client.get("/operator/members/", {"q": f" {member.member_number} "})["Location"] == page
    assert client.get("/operator/members/", {"q": "CARD4455"})["Location"] == page
    missing = client.get("/operator/members/", {"q": "nobody@example.com"})
    assert missing.status_code == 200
    assert "No member found" in _html(missing)
    empty = client.get("/operator/members/", {"q": ""})
    assert empty.status_code == 400
    assert "Enter an e-mail address, a member number or a card number" in _html(empty)
    assert client.get("/operator/members/0000000000/").status_code == 404


def test_support_sees_the_whole_address_and_read_only_a_masked_one(partner_a: Partner) -> None:
    member = funded_member(partner_a, 30, prefix="opmask")
    page = f"/operator/members/{member.member_number}/"
    support, _ = login_as("support", partner_a)
    html = _html(support.get(page))
    assert member.email in html
    assert "Block" in html
    assert "Erase personal data" in html
    reader, _ = login_as("read_only", partner_a)
    html = _html(reader.get(page))
    local, domain = member.email.split("@")
    assert member.email not in html
    assert f"{local[0]}***@{domain}" in html
    assert "Block" not in html
    assert "Erase personal data" not in html
    assert "30" in html


def test_block_needs_a_reason_a_second_press_records_nothing_and_unblock_restores(
    partner_a: Partner,
) -> None:
    # given a member and a support operator
    member = funded_member(partner_a, 20, prefix="opblock")
    client, _ = login_as("support", partner_a)
    url = f"/operator/members/{member.member_number}/status/blocked/"
    entries = AuditEntry.objects.count()
    # when the reason is left empty, then the form says so and nothing changes
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert "Say why" in _html(refused)
    assert Member.objects.get(pk=member.pk).status == MemberStatus.ACTIVE
    # when blocked with a reason, twice (a double press)
    assert client.post(url, {"reason": "chargeback fraud"}).status_code == 302
    assert client.post(url, {"reason": "chargeback fraud"}).status_code == 302
    # then the member is blocked once, and the page explains what that stops
    assert Member.objects.get(pk=member.pk).status == MemberStatus.BLOCKED
    assert AuditEntry.objects.count() == entries + 1
    html = _html(client.get(f"/operator/members/{member.member_number}/"))
    assert "This member is blocked" in html
    assert "chargeback fraud" in html
    assert "Unblock" in html
    # and the block page now says the move is not possible
    assert "not possible" in _html(client.get(url))
    # when unblocked, then active again
    client.post(f"/operator/members/{member.member_number}/status/active/", {"reason": "cleared"})
    assert Member.objects.get(pk=member.pk).status == MemberStatus.ACTIVE
    assert client.get(f"/operator/members/{member.member_number}/status/frozen/").status_code == 404


def test_erasure_shows_what_is_erased_and_kept_and_needs_the_typed_number(
    partner_a: Partner,
) -> None:
    member = funded_member(partner_a, 15, prefix="operase")
    client, _ = login_as("admin", partner_a)
    url = f"/operator/members/{member.member_number}/erase/"
    check = _html(client.get(url))
    assert "What is erased" in check
    assert "What is kept" in check
    assert "15" in check
    wrong = client.post(url, {"confirmation": "1234567890", "reason": "asked"})
    assert wrong.status_code == 400
    assert "Type the member" in _html(wrong)
    assert Member.objects.get(pk=member.pk).status == MemberStatus.ACTIVE
    done = client.post(url, {"confirmation": member.member_number, "reason": "asked"})
    assert done.status_code == 302
    html = _html(client.get(done["Location"]))
    assert "Erased" in html
    assert member.email not in html
    assert "Erase personal data" not in html


def test_history_covers_every_partner_filters_pages_and_exports(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given a member who earned at two partners and spent at one
    member = funded_member(partner_a, 10, prefix="ophist")
    ledger.earn(member_id=member.pk, partner_id=partner_b.pk, points=7)
    ledger.burn(member_id=member.pk, partner_id=partner_a.pk, points=3)
    client, _ = login_as("read_only", partner_a)
    url = f"/operator/members/{member.member_number}/history/"
    html = _html(client.get(url))
    assert partner_a.name in html
    assert partner_b.name in html
    # when filtered by partner, then only that partner's movements
    only_b = _html(client.get(url, {"partner": partner_b.slug}))
    assert partner_b.name in only_b
    assert "+7" in only_b
    assert "+10" not in only_b
    # when paged one by one through a small page size
    from loyalty_web.operator import members as pages

    size, pages.HISTORY_PAGE_SIZE = pages.HISTORY_PAGE_SIZE, 2
    try:
        first = client.get(url)
        assert "Next page" in _html(first)
        second = client.get(url, {"after": first.context["page"].next_cursor})
        assert len(second.context["page"].items) == 1
    finally:
        pages.HISTORY_PAGE_SIZE = size
    # and exported, then every movement is a row
    csv = b"".join(client.get(url, {"format": "csv"}).streaming_content).decode()
    lines = csv.strip().splitlines()
    assert lines[0].startswith("transaction,when,what,points,partner")
    assert len(lines) == 4
    bad = client.get(url, {"since": "2026-05-02", "until": "2026-05-01"})
    assert bad.status_code == 400


def test_the_member_page_costs_the_same_queries_however_long_the_history(
    partner_a: Partner,
) -> None:
    client, _ = login_as("support", partner_a)
    short = funded_member(partner_a, 5, prefix="opshort")
    long = funded_member(partner_a, 5, prefix="oplong")
    for _ in range(30):
        ledger.earn(member_id=long.pk, partner_id=partner_a.pk, points=1)
    counts = []
    for member in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/operator/members/{member.member_number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
