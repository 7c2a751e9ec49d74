"""Changing the coalition rules: an operator admin sets every rule at once with a
reason; the change is audited (before and after) in the same transaction, and the
same values again record nothing. Concurrent changes serialise on the row (or, for
the first, on the table), so the audit's "before" is always what was replaced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from coalition.audit.services import audit_record
from coalition.rules.errors import CoalitionRuleInvalid, CoalitionRuleReasonMissing
from coalition.rules.models import MAX_RULE_POINTS, CoalitionRules
from coalition.rules.selectors import Rules, coalition_rules, default_rules

MAX_REASON_LENGTH = 200
RULE_FIELDS = ("adjustment_daily_cap", "goodwill_approval_threshold")


@dataclass(frozen=True)
class RulesChange:
    rules: Rules
    changed: bool


def _check(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CoalitionRuleInvalid(_("Enter a whole number of points"), field=field)
    if not 0 <= value <= MAX_RULE_POINTS:
        raise CoalitionRuleInvalid(
            _("Enter a number of points from 0 to %(max)s") % {"max": f"{MAX_RULE_POINTS:,}"},
            field=field,
        )
    return value


def _actor_label(actor: Any) -> str:
    label = getattr(actor, "email", "") or getattr(actor, "username", "")
    return str(label or ("system" if actor is None else actor))[:254]


def coalition_rules_set(
    *, adjustment_daily_cap: int, goodwill_approval_threshold: int, reason: str, actor: Any
) -> RulesChange:
    """Put new rules in force from now on: partners' adjustments count against the new
    cap for the rest of their day; goodwill already waiting for approval keeps waiting
    (the threshold decides when it is proposed)."""
    after = {
        "adjustment_daily_cap": _check("adjustment_daily_cap", adjustment_daily_cap),
        "goodwill_approval_threshold": _check(
            "goodwill_approval_threshold", goodwill_approval_threshold
        ),
    }
    reason = (reason or "").strip()
    if not reason:
        raise CoalitionRuleReasonMissing(_("Enter the reason for this change"))
    if len(reason) > MAX_REASON_LENGTH:
        raise CoalitionRuleReasonMissing(
            _("Keep the reason to %(max)s characters") % {"max": MAX_REASON_LENGTH}
        )
    with transaction.atomic():
        row = CoalitionRules.objects.select_for_update().first()
        if row is None:
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE public.rules_coalitionrules IN SHARE ROW EXCLUSIVE MODE")
            row = CoalitionRules.objects.first()
        current = coalition_rules() if row is not None else default_rules()
        before = {field: getattr(current, field) for field in RULE_FIELDS}
        if row is not None and before == after:
            return RulesChange(current, changed=False)
        row = row or CoalitionRules()
        for field, value in after.items():
            setattr(row, field, value)
        row.reason = reason
        row.changed_by_label = _actor_label(actor)
        row.save()
        audit_record(
            actor=actor,
            partner_id=None,
            action="programme.rules_change",
            target=("coalition_rules", row.pk),
            before=before,
            after={**after, "reason": reason},
        )
    return RulesChange(coalition_rules(), changed=True)
