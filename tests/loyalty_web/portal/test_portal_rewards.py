"""Rewards across brands in the member portal: the catalogue and its filters, a
member redeeming another partner's reward by themselves (settled to that partner),
"My vouchers" with the QR code and barcode, and cancelling an unused voucher."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from coalition.catalogue.models import CatalogueEntry
from coalition.ledger.models import Account
from coalition.ledger.selectors import account_balance, account_balances, balance
from coalition.members.models import Member
from tenants.partners.models import Partner
from tenants.rewards.models import Reward, Voucher, VoucherStatus
from tenants.rewards.self_service import member_vouchers
from tests.testkit import host_client, in_partner
from tests.testkit.api import funded_member, reward, store
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db


def _entry(partner: Partner, code: str) -> CatalogueEntry:
    return CatalogueEntry.objects.get(partner=partner, code=code)


def _vouchers(partner: Partner, member: Member) -> list[tuple[str, str]]:
    with in_partner(partner):
        return list(Voucher.objects.filter(member=member).values_list("code", "status"))


def _redemptions(partner: Partner) -> int:
    account = Account.objects.filter(partner=partner, kind="redemption").first()
    return account_balance(account.pk) if account else 0


def test_the_catalogue_lists_every_partners_rewards_with_filters(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given rewards of two partners and a member with 300 points
    member = funded_member(partner_a, 300, "catalogue")
    tag = uuid4().hex[:6]
    cheap = reward(partner_a, 100, name=f"Coffee {tag}")
    dear = reward(partner_b, 900, name=f"Lounge {tag}")
    till_only = reward(partner_b, 50, name=f"Till bag {tag}", channels=["pos"])
    client = portal_client(member)

    # when the member searches
    page = client.get("/portal/rewards/", {"q": tag}).content.decode()
    # then both brands show, and a till-only reward does not
    assert f"Coffee {tag}" in page
    assert f"Lounge {tag}" in page
    assert f"Till bag {tag}" not in page
    assert "600 more points needed" in page  # the lounge is out of reach
    assert f"/portal/rewards/{_entry(partner_a, cheap).pk}/" in page
    assert f"/portal/rewards/{_entry(partner_b, dear).pk}/" not in page
    assert till_only

    by_partner = client.get("/portal/rewards/", {"q": tag, "partner": partner_b.pk})
    assert f"Coffee {tag}" not in by_partner.content.decode()
    assert f"Lounge {tag}" in by_partner.content.decode()
    affordable = client.get("/portal/rewards/", {"q": tag, "affordable": "on"}).content.decode()
    assert f"Coffee {tag}" in affordable
    assert f"Lounge {tag}" not in affordable
    ranged = client.get("/portal/rewards/", {"q": tag, "min_points": 500, "max_points": 1000})
    assert f"Lounge {tag}" in ranged.content.decode()
    assert f"Coffee {tag}" not in ranged.content.decode()
    wrong = client.get("/portal/rewards/", {"min_points": 500, "max_points": 10})
    assert wrong.status_code == 400
    assert "Enter a number of points no lower than the first" in wrong.content.decode()


def test_the_catalogue_filters_by_category(partner_a: Partner, partner_b: Partner) -> None:
    # given: travel rewards at two partners (typed in two cases) and a food one
    member = funded_member(partner_a, 300, "category")
    tag = uuid4().hex[:6]
    reward(partner_a, 100, name=f"Lounge {tag}", category="Travel")
    reward(partner_b, 200, name=f"Train {tag}", category="travel")
    reward(partner_b, 50, name=f"Bread {tag}", category="food")
    client = portal_client(member)

    # when: the member opens the rewards page, then picks a category
    page = client.get("/portal/rewards/").content.decode()
    travel = client.get("/portal/rewards/", {"q": tag, "category": "travel"}).content.decode()

    # then: each category is offered once, and only its rewards show, from both brands
    assert page.count('<option value="travel">Travel</option>') == 1
    assert '<option value="food">Food</option>' in page
    assert f"Lounge {tag}" in travel
    assert f"Train {tag}" in travel
    assert f"Bread {tag}" not in travel
    assert "Travel" in travel.split(f"Lounge {tag}")[0].rsplit("reward-card__partner", 1)[1]
    # and: a category that is not offered is refused, naming the field
    wrong = client.get("/portal/rewards/", {"category": "no-such-category"})
    assert wrong.status_code == 400
    assert "Select a valid choice" in wrong.content.decode()


def test_the_catalogue_pages_by_price_and_keeps_the_filters(partner_a: Partner) -> None:
    member = funded_member(partner_a, 10, "pages")
    tag = uuid4().hex[:6]
    for price in range(1, 27):
        reward(partner_a, price, name=f"Pen {tag} {price:02d}")
    client = portal_client(member)
    first = client.get("/portal/rewards/", {"q": tag}).content.decode()
    assert f"Pen {tag} 24" in first
    assert f"Pen {tag} 25" not in first
    assert "after=24." in first
    assert f"q={tag}" in first
    after = first.split("after=")[1].split('"')[0].replace("&amp;", "&")
    second = client.get(f"/portal/rewards/?q={tag}&after={after}").content.decode()
    assert f"Pen {tag} 25" in second
    assert f"Pen {tag} 26" in second
    assert f"Pen {tag} 24" not in second


def test_a_member_redeems_another_partners_reward_and_the_partner_honours_it(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given points earned at A, and a reward of B with a store to use it in
    member = funded_member(partner_a, 500, "redeem")
    code = reward(partner_b, 200, name="Seat upgrade", stock=3)
    store(partner_b)
    entry = _entry(partner_b, code)
    client = portal_client(member)
    redeemed_before = _redemptions(partner_b)

    # when the member checks and confirms
    check = client.get(f"/portal/rewards/{entry.pk}/").content.decode()
    assert "Your balance after" in check
    assert "300 points" in check
    key = uuid4().hex
    answer = client.post(f"/portal/rewards/{entry.pk}/", {"idempotency_key": key})
    again = client.post(f"/portal/rewards/{entry.pk}/", {"idempotency_key": key})

    # then one voucher at B, points burnt once, and B is owed the redemption
    [(voucher_code, status)] = _vouchers(partner_b, member)
    assert status == VoucherStatus.ISSUED
    assert answer.status_code == again.status_code == 302
    assert (
        answer["Location"]
        == again["Location"]
        == (f"/portal/vouchers/{partner_b.slug}/{voucher_code}/")
    )
    assert balance(member.pk) == 300
    assert _redemptions(partner_b) - redeemed_before == 200
    with in_partner(partner_b):
        assert Reward.objects.get(code=code).stock == 2

    page = client.get(answer["Location"]).content.decode()
    assert "data:image/svg+xml;base64," in page
    assert "QR code of voucher" in page
    assert "Barcode of voucher" in page
    assert "API test shop" in page
    listed = client.get("/portal/vouchers/").content.decode()
    assert "Seat upgrade" in listed
    assert partner_b.name in listed


def test_a_reward_out_of_reach_is_refused_and_nothing_changes(partner_a: Partner) -> None:
    member = funded_member(partner_a, 50, "short")
    entry = _entry(partner_a, reward(partner_a, 80))
    client = portal_client(member)
    assert (
        "You need 30 more points for this reward."
        in client.get(f"/portal/rewards/{entry.pk}/").content.decode()
    )
    refused = client.post(f"/portal/rewards/{entry.pk}/", {"idempotency_key": uuid4().hex})
    assert refused.status_code == 400
    assert "There is a problem" in refused.content.decode()
    assert balance(member.pk) == 50
    assert _vouchers(partner_a, member) == []


def test_a_member_cancels_an_unused_voucher_and_gets_the_points_back(
    partner_a: Partner,
) -> None:
    member = funded_member(partner_a, 300, "cancel")
    entry = _entry(partner_a, reward(partner_a, 120))
    client = portal_client(member)
    location = client.post(f"/portal/rewards/{entry.pk}/", {"idempotency_key": "k1"})["Location"]
    assert balance(member.pk) == 180
    cancelled = client.post(location + "cancel/", follow=True)
    assert "120 points are back in your balance" in cancelled.content.decode()
    assert balance(member.pk) == 300
    assert [status for _, status in _vouchers(partner_a, member)] == [VoucherStatus.CANCELLED]
    # a second cancel is refused clearly and refunds nothing more
    twice = client.post(location + "cancel/", follow=True).content.decode()
    assert "can no longer be cancelled" in twice
    assert balance(member.pk) == 300
    assert "data:image/svg" not in twice  # a cancelled voucher shows no code to scan


def test_my_vouchers_lists_every_partners_vouchers_newest_first(
    partner_a: Partner, partner_b: Partner
) -> None:
    member = funded_member(partner_a, 1000, "mine")
    client = portal_client(member)
    for partner, key in ((partner_a, "a"), (partner_b, "b")):
        entry = _entry(partner, reward(partner, 100, name=f"Gift {key}"))
        client.post(f"/portal/rewards/{entry.pk}/", {"idempotency_key": key})
    vouchers = member_vouchers(member_id=member.pk)
    assert [v.reward_name for v in vouchers] == ["Gift b", "Gift a"]
    assert [v.partner_slug for v in vouchers] == [partner_b.slug, partner_a.slug]


# --- permissions -----------------------------------------------------------------------


def _state(*partners: Partner) -> Any:
    vouchers = []
    for partner in partners:
        with in_partner(partner):
            vouchers.append(sorted(Voucher.objects.values_list("code", "status")))
    accounts = list(Account.objects.values_list("pk", flat=True))
    return vouchers, sorted(account_balances(accounts).items())


def test_another_members_session_cannot_see_or_cancel_this_members_voucher(
    partner_a: Partner,
) -> None:
    # given a member's voucher
    owner = funded_member(partner_a, 300, "owner")
    entry = _entry(partner_a, reward(partner_a, 100))
    location = portal_client(owner).post(
        f"/portal/rewards/{entry.pk}/", {"idempotency_key": "own"}
    )["Location"]
    intruder = portal_client(funded_member(partner_a, 300, "intruder"))
    before = _state(partner_a)

    # when another member opens or cancels it, then it is unknown to them
    assert intruder.get(location).status_code == 404
    assert intruder.post(location + "cancel/").status_code == 404
    assert entry.code not in intruder.get("/portal/vouchers/").content.decode()
    assert _state(partner_a) == before


PAGES = (
    ("get", "/portal/rewards/"),
    ("get", "/portal/rewards/{entry}/"),
    ("post", "/portal/rewards/{entry}/"),
    ("get", "/portal/vouchers/"),
    ("get", "/portal/vouchers/{slug}/{code}/"),
    ("post", "/portal/vouchers/{slug}/{code}/cancel/"),
)


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(
    method: str, url: str, partner_a: Partner
) -> None:
    owner = funded_member(partner_a, 300, "anon")
    entry = _entry(partner_a, reward(partner_a, 100))
    location = portal_client(owner).post(
        f"/portal/rewards/{entry.pk}/", {"idempotency_key": "anon"}
    )["Location"]
    code = location.rstrip("/").rsplit("/", 1)[1]
    target = url.format(entry=entry.pk, slug=partner_a.slug, code=code)
    before = _state(partner_a)
    answer = getattr(host_client(public_host()), method)(target, {"idempotency_key": "x"})
    assert answer.status_code == 302
    assert answer["Location"].startswith("/portal/sign-in/?next=")
    assert _state(partner_a) == before


@pytest.mark.parametrize(
    "url", ["/portal/rewards/{entry}/", "/portal/vouchers/{slug}/{code}/cancel/"]
)
def test_portal_forms_refuse_a_post_without_the_csrf_token(url: str, partner_a: Partner) -> None:
    owner = funded_member(partner_a, 300, "csrf")
    entry = _entry(partner_a, reward(partner_a, 100))
    location = portal_client(owner).post(
        f"/portal/rewards/{entry.pk}/", {"idempotency_key": "csrf"}
    )["Location"]
    code = location.rstrip("/").rsplit("/", 1)[1]
    client = portal_client(owner)
    client.handler.enforce_csrf_checks = True
    before = _state(partner_a)
    answer = client.post(
        url.format(entry=entry.pk, slug=partner_a.slug, code=code), {"idempotency_key": "new"}
    )
    assert answer.status_code == 403
    assert _state(partner_a) == before
