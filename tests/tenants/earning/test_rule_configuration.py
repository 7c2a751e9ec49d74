"""Configuring earn rules as staff do: drafts, rules added, changed and removed,
publication (once, never in the past), comparison, a preview, audit rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coalition.audit.models import AuditEntry
from tenants.earning import engine, selectors
from tenants.earning import services as earning
from tenants.earning.errors import InvalidEffectiveDate, InvalidRule, VersionNotDraft
from tenants.earning.models import EarnRule, RuleSetVersion
from tenants.partners.models import Partner
from tests.testkit import in_partner

pytestmark = pytest.mark.django_db

RATE = {"rates": {"EUR": "1"}}


def _audits(action: str) -> int:
    return AuditEntry.objects.filter(action=action).count()


def test_a_draft_is_built_published_once_and_audited(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        # given a draft with a base rate and a product bonus
        draft = earning.ruleset_draft_create(description="launch", actor="tester")
        earning.rule_add(version=draft, kind="base_rate", params=RATE, actor="tester")
        bonus = earning.rule_add(
            version=draft, kind="sku_bonus", params={"sku": "A", "points_per_unit": 5}
        )
        # when the bonus changes and the draft is published
        earning.rule_update(rule=bonus, params={"sku": "A", "points_per_unit": 7}, name="A+")
        published = earning.ruleset_publish(version=draft, effective_from=now, now=now)
        # then it is published from that instant, and each step wrote an audit row
        assert published.effective_from == now
        assert [_audits(a) for a in (
            "earn_rules.draft", "earn_rules.rule_add", "earn_rules.rule_change",
            "earn_rules.publish",
        )] == [1, 2, 1, 1]  # fmt: skip
        entry = AuditEntry.objects.get(action="earn_rules.publish")
        assert entry.partner_id == partner_a.pk
        assert entry.before["published_at"] is None
        assert entry.after["published_at"] is not None
        # and pressing publish again is refused and changes nothing
        with pytest.raises(VersionNotDraft):
            earning.ruleset_publish(version=draft, effective_from=now + timedelta(hours=1))
        assert RuleSetVersion.objects.get(pk=draft.pk).effective_from == now
        assert _audits("earn_rules.publish") == 1


def test_a_published_version_cannot_change(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        version = earning.ruleset_draft_create()
        rule = earning.rule_add(version=version, kind="base_rate", params=RATE)
        earning.ruleset_publish(version=version, effective_from=now, now=now)
        before = list(EarnRule.objects.filter(version=version).values_list("id", "params"))
        # when someone adds, changes or removes a rule of the published version
        for attempt in (
            lambda: earning.rule_add(version=version, kind="include_tax", params={}),
            lambda: earning.rule_update(rule=rule, params={"rates": {"EUR": "9"}}),
            lambda: earning.rule_remove(rule=rule),
        ):
            with pytest.raises(VersionNotDraft):
                attempt()
        # then its rules are as published
        assert list(EarnRule.objects.filter(version=version).values_list("id", "params")) == before


def test_a_past_instant_is_refused_with_a_clear_message(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        draft = earning.ruleset_draft_create()
        earning.rule_add(version=draft, kind="base_rate", params=RATE)
        with pytest.raises(InvalidEffectiveDate) as raised:
            earning.ruleset_publish(version=draft, effective_from=now - timedelta(hours=1), now=now)
        assert "past" in raised.value.message
        assert raised.value.field == "effective_from"
        assert RuleSetVersion.objects.get(pk=draft.pk).published_at is None


def test_an_invalid_rule_is_a_typed_error_and_adds_nothing(partner_a: Partner) -> None:
    with in_partner(partner_a):
        draft = earning.ruleset_draft_create()
        with pytest.raises(InvalidRule):
            earning.rule_add(version=draft, kind="sku_multiplier", params={"sku": ""})
        with pytest.raises(InvalidRule):
            earning.rule_add(version=draft, kind="no_such_kind", params={})
        assert not draft.rules.exists()
        assert _audits("earn_rules.rule_add") == 0


def test_versions_compare_names_added_removed_and_changed_rules(partner_a: Partner) -> None:
    with in_partner(partner_a):
        old = earning.ruleset_draft_create()
        earning.rule_add(version=old, kind="base_rate", params=RATE)
        earning.rule_add(version=old, kind="include_tax", params={})
        earning.rule_add(version=old, kind="sku_bonus", params={"sku": "A", "points_per_unit": 5})
        new = earning.ruleset_draft_create(copy_from=old)
        rules = {rule.kind: rule for rule in new.rules.all()}
        earning.rule_update(rule=rules["base_rate"], params={"rates": {"EUR": "2"}})
        earning.rule_remove(rule=rules["include_tax"])
        earning.rule_add(version=new, kind="receipt_cap", params={"points": 100})
        # when the two versions are compared
        changes = selectors.versions_compare(old, new)
        # then each difference is named once; the unchanged bonus is not
        found = sorted((c.change, c.kind) for c in changes)
        assert found == [
            ("added", "receipt_cap"),
            ("changed", "base_rate"),
            ("removed", "include_tax"),
        ]
        changed = next(c for c in changes if c.change == "changed")
        assert changed.before is not None
        assert changed.after is not None
        assert (changed.before.params, changed.after.params) == (RATE, {"rates": {"EUR": "2"}})


def test_preview_prices_a_draft_with_the_purchase_engine(partner_a: Partner) -> None:
    now = timezone.now()
    with in_partner(partner_a):
        draft = earning.ruleset_draft_create()
        earning.rule_add(version=draft, kind="base_rate", params=RATE)
        earning.rule_add(
            version=draft,
            kind="category_multiplier",
            params={"category": "fruit", "multiplier": "2"},
        )
        basket = engine.Basket(
            currency="EUR",
            lines=(
                engine.BasketLine("APPLE", "fruit", 2, 500),
                engine.BasketLine("SOAP", "home", 1, 300),
            ),
            total=1300,
        )
        # when a basket is previewed under the draft
        breakdown = selectors.ruleset_preview(version=draft, basket=basket, at=now)
        # then it earns what a purchase would: 10 x 2 on fruit + 3 on soap
        assert breakdown.rule_points == 23
        assert {c.kind for c in breakdown.contributions} >= {"base_rate", "category_multiplier"}
        # and the draft is still a draft
        assert RuleSetVersion.objects.get(pk=draft.pk).published_at is None
