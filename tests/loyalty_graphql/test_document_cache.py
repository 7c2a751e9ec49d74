"""Parsed and validated documents are cached per process: an app's repeated
document is validated once, a change of the limits is never served stale, an
invalid document stays invalid, and huge documents are not kept."""

from __future__ import annotations

from unittest import mock

from django.test import override_settings

from loyalty_graphql import views
from tenants.partners.models import Partner
from tests.testkit import api as s

PAGE = "{ catalogue(first: 10) { edges { node { code name pointsPrice } } } }"


def test_a_repeated_document_is_validated_once(db: None) -> None:
    # given: an empty cache
    views._checked_document.cache_clear()
    # when: the same document is sent three times
    with mock.patch.object(views, "validate", wraps=views.validate) as validate:
        replies = [s.gql(s.PUBLIC_HOST, PAGE) for _ in range(3)]
    # then: all three ran, and validation ran once (its two passes: the limits,
    # then the standard rules)
    assert all(reply.status == 200 for reply in replies), replies[0].body
    assert validate.call_count == 2


def test_a_cached_document_is_checked_again_under_other_limits(db: None) -> None:
    # given: the document cached under the default limits
    views._checked_document.cache_clear()
    assert s.gql(s.PUBLIC_HOST, PAGE).status == 200
    # when: the anonymous cost limit drops below the document's cost (20 + 1 + 10 x 4 = 61)
    with override_settings(LOYALTY_GRAPHQL_ANONYMOUS_MAX_COST=20):
        refused = s.gql(s.PUBLIC_HOST, PAGE)
    # then: refused under the low limit, accepted again after it
    assert refused.status == 400
    assert any("exceeds the limit of 20" in message for message in refused.messages)
    assert s.gql(s.PUBLIC_HOST, PAGE).status == 200


def test_an_invalid_document_stays_invalid_when_repeated(db: None, partner_a: Partner) -> None:
    # given: a document asking for a field that does not exist
    bad = "{ catalogue(first: 1) { edges { node { nope } } } }"
    # when: it is sent twice
    first, second = s.gql(s.PUBLIC_HOST, bad), s.gql(s.PUBLIC_HOST, bad)
    # then: the same validation error both times
    assert first.status == second.status == 400
    assert first.messages == second.messages
    assert any("nope" in message for message in first.messages)


def test_huge_documents_are_not_kept(db: None) -> None:
    # given: a valid document longer than the cacheable size (padded with a comment)
    views._checked_document.cache_clear()
    huge = PAGE + "\n#" + "x" * views.CACHEABLE_DOCUMENT_CHARS
    # when: it is sent
    reply = s.gql(s.PUBLIC_HOST, huge)
    # then: it ran, and the cache holds nothing
    assert reply.status == 200, reply.body
    assert views._checked_document.cache_info().currsize == 0
