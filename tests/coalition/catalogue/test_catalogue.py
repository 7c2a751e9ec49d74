"""The coalition-wide catalogue: every active partner's available rewards in one
list, filtered by points, partner, channel and search, keyset-paginated, without
suspended partners' rewards, and at a constant number of queries per page.

Every reward here carries a token of its own test in its name, and each query
searches for it, so rewards other tests committed never show up.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coalition.catalogue.models import CatalogueEntry
from coalition.catalogue.selectors import catalogue_page
from tenants.partners.models import Partner
from tenants.partners.services import partner_change_status
from tenants.rewards import services as rewards
from tests.testkit import in_partner


def _token() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _stock(partner_a: Partner, partner_b: Partner, token: str) -> None:
    """A's and B's rewards: five available, four that are not (and must not show)."""
    now = timezone.now()
    with in_partner(partner_a):
        rewards.reward_save(code="mug", name=f"{token} Mug", points_price=100)
        rewards.reward_save(code="bag", name=f"{token} Bag", points_price=300, channels=["pos"])
        rewards.reward_save(code="gone", name=f"{token} Gone", points_price=50, is_active=False)
        rewards.reward_save(code="empty", name=f"{token} Empty", points_price=50, stock=0)
        rewards.reward_save(
            code="later",
            name=f"{token} Later",
            points_price=50,
            valid_from=now + timedelta(days=1),
        )
        rewards.reward_save(
            code="over",
            name=f"{token} Over",
            points_price=50,
            valid_from=now - timedelta(days=9),
            valid_until=now - timedelta(seconds=1),
        )
    with in_partner(partner_b):
        rewards.reward_save(
            code="snack", name=f"{token} Snack", points_price=100, channels=["app"], stock=9
        )
        rewards.reward_save(code="seat", name=f"{token} Seat", points_price=500)
        rewards.reward_save(code="lounge", name=f"{token} Lounge", points_price=300)


def _codes(**filters: object) -> list[tuple[str, str]]:
    """(partner slug, reward code) of every entry of the first (big) page."""
    page = catalogue_page(first=100, **filters)
    return [(entry.partner.slug, entry.code) for entry in page.entries]


def test_catalogue_lists_both_partners_available_rewards_by_price(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: rewards at A and B, some inactive, out of stock or outside their window
    token = _token()
    _stock(partner_a, partner_b, token)

    # when: a member browses the coalition catalogue
    listed = _codes(search=token)

    # then: both partners' available rewards, cheapest first (ties in creation order)
    assert listed == [
        ("alpha", "mug"),
        ("beta", "snack"),
        ("alpha", "bag"),
        ("beta", "lounge"),
        ("beta", "seat"),
    ]
    # and a reward's window is judged at the given time
    later = _codes(search=token, now=timezone.now() + timedelta(days=2))
    assert ("alpha", "later") in later


def test_catalogue_filters_by_points_partner_channel_and_search(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: the same rewards
    token = _token()
    _stock(partner_a, partner_b, token)

    # when / then: at most 300 points
    assert _codes(search=token, max_points=300) == [
        ("alpha", "mug"),
        ("beta", "snack"),
        ("alpha", "bag"),
        ("beta", "lounge"),
    ]
    # one partner
    assert _codes(search=token, partner_ids=[partner_a.pk]) == [("alpha", "mug"), ("alpha", "bag")]
    # a channel: rewards for every channel, and those for the app
    assert _codes(search=token, channel="app") == [
        ("alpha", "mug"),
        ("beta", "snack"),
        ("beta", "lounge"),
        ("beta", "seat"),
    ]
    # search is case-insensitive, on the name
    assert _codes(search=f"{token} LOUNGE") == [("beta", "lounge")]
    assert _codes(search=f"{token} nothing-like-it") == []
    # filters combine
    assert _codes(search=token, max_points=300, partner_ids=[partner_b.pk], channel="pos") == [
        ("beta", "lounge")
    ]


def test_catalogue_keyset_pagination_walks_every_entry_once(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: seven rewards, several at the same price
    token = _token()
    _stock(partner_a, partner_b, token)
    with in_partner(partner_b):
        rewards.reward_save(code="cap", name=f"{token} Cap", points_price=300)
        rewards.reward_save(code="pen", name=f"{token} Pen", points_price=100)
    everything = _codes(search=token)
    assert len(everything) == 7

    # when: paging two at a time with ``after``
    seen: list[tuple[str, str]] = []
    after = None
    pages = 0
    while True:
        page = catalogue_page(first=2, after=after, search=token)
        pages += 1
        seen += [(entry.partner.slug, entry.code) for entry in page.entries]
        if page.next_after is None:
            break
        assert page.next_after == (page.entries[-1].points_price, page.entries[-1].pk)
        after = page.next_after

    # then: every entry exactly once, in catalogue order, in four pages
    assert seen == everything
    assert pages == 4
    # a page size is at least 1 and at most 100
    assert len(catalogue_page(first=0, search=token).entries) == 1


def test_a_suspended_partners_rewards_are_hidden(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: both partners' rewards listed
    token = _token()
    _stock(partner_a, partner_b, token)
    assert {slug for slug, _ in _codes(search=token)} == {"alpha", "beta"}

    # when: A is suspended
    suspended = partner_change_status(partner=partner_a, to_status="suspended", reason="audit")

    # then: only B's rewards are listed, even when asking for A's
    assert _codes(search=token) == [("beta", "snack"), ("beta", "lounge"), ("beta", "seat")]
    assert _codes(search=token, partner_ids=[partner_a.pk]) == []
    # and they come back when A is active again
    partner_change_status(partner=suspended, to_status="active", reason="audit done")
    assert {slug for slug, _ in _codes(search=token)} == {"alpha", "beta"}


def _queries_for_a_page(token: str) -> tuple[list[str], int]:
    """(SQL run, entries) to read a full page and every entry's partner name.
    django-tenants sets the search path before a new cursor's first query: that
    statement is not a query of the page and is left out."""
    with CaptureQueriesContext(connection) as queries:
        page = catalogue_page(first=100, search=token)
        names = [entry.partner.name for entry in page.entries]
    sql = [query["sql"] for query in queries.captured_queries]
    return [text for text in sql if not text.startswith("SET search_path")], len(names)


def test_a_catalogue_page_costs_a_constant_number_of_queries(
    db: None, partner_a: Partner, partner_b: Partner
) -> None:
    # given: three rewards
    token = _token()
    for index, partner in enumerate((partner_a, partner_b, partner_a)):
        with in_partner(partner):
            rewards.reward_save(code=f"few-{index}", name=f"{token} few {index}", points_price=10)
    connection.set_schema_to_public()
    few_queries, few = _queries_for_a_page(token)
    assert few == 3

    # when: there are 60 of them, from both partners
    for index in range(57):
        with in_partner(partner_a if index % 2 else partner_b):
            rewards.reward_save(
                code=f"many-{index}", name=f"{token} many {index}", points_price=10 + index
            )
    connection.set_schema_to_public()
    many_queries, many = _queries_for_a_page(token)

    # then: the page costs the same (one query), whatever the number of entries
    assert many == 60
    assert len(many_queries) == len(few_queries) == 1, many_queries
    assert many_queries[0].lstrip().startswith("SELECT")
    assert CatalogueEntry.objects.filter(name__startswith=token).count() == 60
