"""Agreement: which settlement terms are in force, on generated term versions.

The rule has one implementation, the SQL fragment ``terms.TERMS_RANGES`` (a
version applies from its ``effective_from`` until the next version's). Three
paths read it: ``terms.terms_in_force`` (liability) filters the ranges at an
instant, ``terms.TERMS_IN_FORCE_AT_EACH_SQL`` at many instants in one statement
(the fixed fees of unbilled months), and the valuation statements
(``statements.PARTNER_EVENTS_SQL``) join each event to its range. All are checked
against the readable definition below on generated versions, including versions
that start exactly at an event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coalition.ledger import services as ledger
from coalition.settlement.errors import TermsMissing
from coalition.settlement.models import SettlementTerms
from coalition.settlement.statements import compute_statements
from coalition.settlement.terms import TERMS_IN_FORCE_AT_EACH_SQL, terms_in_force
from tests.testkit.settlement import new_member, onboard_partner


def in_force_by_definition(versions: list[SettlementTerms], at: datetime) -> int | None:
    """The readable definition: of the versions that took effect at or before
    ``at``, the latest; none before ``at`` means no terms in force."""
    started = [terms for terms in versions if terms.effective_from <= at]
    return max(started, key=lambda terms: terms.effective_from).pk if started else None


def in_force_at_each(instants: list[datetime]) -> dict[datetime, dict[int, int]]:
    """The batched look-up the fixed fees run (``TERMS_IN_FORCE_AT_EACH_SQL``):
    instant -> partner id -> id of the version in force."""
    with connection.cursor() as cursor:
        cursor.execute(TERMS_IN_FORCE_AT_EACH_SQL, {"instants": instants, "partner": None})
        rows = cursor.fetchall()
    versions = dict(
        SettlementTerms.objects.filter(pk__in=[r[1] for r in rows]).values_list("pk", "partner_id")
    )
    found: dict[datetime, dict[int, int]] = {}
    for at, terms_id in rows:
        found.setdefault(at, {})[versions[terms_id]] = terms_id
    return found


class Rollback(Exception):
    """Ends an example's savepoint: each example starts from no versions."""


# Offsets in minutes from the moment the test's event was posted; 0 puts a
# version's start exactly on the event (the range's closed end).
offsets = st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60) | st.just(0)


def test_terms_in_force_agree_with_the_definition_on_generated_versions(db: None) -> None:
    # given two partners and one earn at the first, posted at the test's start
    partners = [onboard_partner("terms", "EUR"), onboard_partner("terms", "EUR")]
    member = new_member("terms")
    earned = ledger.earn(member_id=member, partner_id=partners[0].pk, points=100)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT created_at FROM public.ledger_transaction WHERE id = %s",
            [earned.transaction_id],
        )
        (posted_at,) = cursor.fetchone()

    @settings(
        max_examples=60, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip
    @given(
        starts=st.tuples(
            st.lists(offsets, max_size=5, unique=True), st.lists(offsets, max_size=5, unique=True)
        ),
        probes=st.lists(offsets, min_size=1, max_size=6),
    )
    def run(starts: tuple[list[int], list[int]], probes: list[int]) -> None:
        try:
            with transaction.atomic():
                # given generated versions of each partner's terms
                versions = [
                    [
                        SettlementTerms.objects.create(
                            partner=partner,
                            effective_from=posted_at + timedelta(minutes=minutes),
                            currency="EUR",
                            issuance_price=Decimal(index + 1),
                            reimbursement_rate=Decimal(1),
                        )
                        for index, minutes in enumerate(partner_starts)
                    ]
                    for partner, partner_starts in zip(partners, starts, strict=True)
                ]
                for minutes in probes:
                    at = posted_at + timedelta(minutes=minutes)
                    # when the terms in force are looked up at an instant
                    found = terms_in_force(at)
                    # then each partner's are the definition's, for all partners at once
                    # and for one partner alone
                    for partner, partner_versions in zip(partners, versions, strict=True):
                        expected = in_force_by_definition(partner_versions, at)
                        assert getattr(found.get(partner.pk), "pk", None) == expected
                        alone = terms_in_force(at, partner_id=partner.pk)
                        assert getattr(alone.get(partner.pk), "pk", None) == expected
                        assert set(alone) <= {partner.pk}
                # and the batched look-up (fixed fees of many months) says the same
                instants = [posted_at + timedelta(minutes=minutes) for minutes in probes]
                each = in_force_at_each(instants)
                for at in instants:
                    for partner, partner_versions in zip(partners, versions, strict=True):
                        expected = in_force_by_definition(partner_versions, at)
                        assert each.get(at, {}).get(partner.pk) == expected

                # when the earn is valued like a period close values it
                expected = in_force_by_definition(versions[0], posted_at)
                span = (earned.transaction_id - 1, earned.transaction_id)
                if expected is None:
                    # then without terms in force at the event nothing values it
                    with pytest.raises(TermsMissing):
                        compute_statements(*span, partner_id=partners[0].pk)
                else:
                    # then it is valued at the definition's version
                    drafts, _ = compute_statements(*span, partner_id=partners[0].pk)
                    (line,) = drafts[partners[0].pk].lines
                    assert line.terms is not None
                    assert line.terms.pk == expected
                    assert line.amount == 100 * line.terms.issuance_price
                raise Rollback
        except Rollback:
            pass

    run()
