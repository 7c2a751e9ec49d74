"""The coalition-wide rules every partner and operator works under (public
schema): one row, changed by an operator admin with a reason, each change audited.

- ``adjustment_daily_cap``: the points a partner may adjust (added and taken back
  alike) per local day, in its console or API;
- ``goodwill_approval_threshold``: coalition-funded goodwill above this many points
  waits for a second operator's approval (four eyes); at or below it, it is given
  at once.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

MAX_RULE_POINTS = 100_000_000


class CoalitionRules(models.Model):
    """The single row of rules in force (``singleton`` is true and unique, so the
    database holds at most one). Without the row the settings' defaults apply."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    adjustment_daily_cap = models.BigIntegerField()
    goodwill_approval_threshold = models.BigIntegerField()
    changed_at = models.DateTimeField(auto_now=True)
    changed_by_label = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "coalition rules"
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(singleton=True), name="rules_one_row"),
            models.CheckConstraint(
                condition=models.Q(adjustment_daily_cap__gte=0)
                & models.Q(adjustment_daily_cap__lte=MAX_RULE_POINTS),
                name="rules_adjustment_cap_range",
            ),
            models.CheckConstraint(
                condition=models.Q(goodwill_approval_threshold__gte=0)
                & models.Q(goodwill_approval_threshold__lte=MAX_RULE_POINTS),
                name="rules_goodwill_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"cap {self.adjustment_daily_cap}/day, four eyes above "
            f"{self.goodwill_approval_threshold}"
        )
