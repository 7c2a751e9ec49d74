"""Earn rules in words a shop manager understands: each rule kind's name and a
sentence for one rule ("2 points per EUR spent"), and a version comparison as
sentences ("Added: ...", "Changed: ... (was ...)"). Presentation only: which rules
differ is decided by ``tenants.earning.selectors.versions_compare``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_web.design.formatting import format_money
from tenants.earning.selectors import RuleChange

KIND_LABELS = {
    "base_rate": gettext_lazy("Points per amount spent"),
    "category_multiplier": gettext_lazy("Multiplier on a category"),
    "sku_multiplier": gettext_lazy("Multiplier on a product"),
    "category_bonus": gettext_lazy("Bonus per item of a category"),
    "sku_bonus": gettext_lazy("Bonus per item of a product"),
    "exclude_categories": gettext_lazy("Categories that earn nothing"),
    "include_tax": gettext_lazy("Tax earns points"),
    "include_tips": gettext_lazy("Tips earn points"),
    "minimum_spend": gettext_lazy("Minimum spend"),
    "tier_multiplier": gettext_lazy("Multiplier for a tier"),
    "rounding": gettext_lazy("Rounding"),
    "receipt_cap": gettext_lazy("Most points per receipt"),
    "daily_cap": gettext_lazy("Most points per member per day"),
}

ROUNDING_WORDS = {
    "floor": gettext_lazy("rounded down"),
    "ceil": gettext_lazy("rounded up"),
    "half_up": gettext_lazy("rounded to the nearest point (halves up)"),
    "half_even": gettext_lazy("rounded to the nearest point (halves to even)"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def _number(value: Any) -> str:
    try:
        number = Decimal(str(value)).normalize()
    except ArithmeticError:
        return str(value)
    return f"{number:f}"


def describe_rule(kind: str, params: Mapping[str, Any]) -> str:
    """One rule as a sentence."""
    if kind == "base_rate":
        rates = params.get("rates") or {}
        return "; ".join(
            (
                _("1 point per %(currency)s spent")
                if _number(rate) == "1"
                else _("%(points)s points per %(currency)s spent")
            )
            % {"points": _number(rate), "currency": currency}
            for currency, rate in rates.items()
        )
    if kind in ("category_multiplier", "sku_multiplier"):
        if kind == "category_multiplier":
            text = _("%(multiplier)s times the points on the category %(what)s")
            what = params.get("category", "")
        else:
            text = _("%(multiplier)s times the points on the product %(what)s")
            what = params.get("sku", "")
        return text % {"multiplier": _number(params.get("multiplier")), "what": what}
    if kind in ("category_bonus", "sku_bonus"):
        if kind == "category_bonus":
            text = _("%(points)s extra points for each item of the category %(what)s")
            what = params.get("category", "")
        else:
            text = _("%(points)s extra points for each %(what)s bought")
            what = params.get("sku", "")
        return text % {"points": _number(params.get("points_per_unit")), "what": what}
    if kind == "exclude_categories":
        return _("No points on %(categories)s") % {
            "categories": ", ".join(str(c) for c in params.get("categories") or [])
        }
    if kind == "include_tax":
        return _("Tax earns points too")
    if kind == "include_tips":
        return _("Tips earn points too")
    if kind == "minimum_spend":
        return "; ".join(
            _("No points below %(amount)s of spend that earns")
            % {"amount": format_money(int(amount), currency)}
            for currency, amount in (params.get("amounts") or {}).items()
        )
    if kind == "tier_multiplier":
        return "; ".join(
            _("%(multiplier)s times the points for %(tier)s members")
            % {"multiplier": _number(multiplier), "tier": tier}
            for tier, multiplier in (params.get("multipliers") or {}).items()
        )
    if kind == "rounding":
        return _("Points are %(how)s") % {
            "how": ROUNDING_WORDS.get(str(params.get("mode")), params.get("mode"))
        }
    if kind == "receipt_cap":
        return _("At most %(points)s points per receipt") % {"points": params.get("points")}
    if kind == "daily_cap":
        return _("At most %(points)s points per member per day") % {"points": params.get("points")}
    return f"{kind} {params}"


@dataclass(frozen=True)
class ChangeInWords:
    change: str  # "added", "removed", "changed"
    label: str  # "Added", "Removed", "Changed"
    kind: str
    text: str
    was: str = ""


def describe_changes(changes: list[RuleChange]) -> list[ChangeInWords]:
    described = []
    for change in changes:
        if change.change == "added" and change.after is not None:
            described.append(
                ChangeInWords(
                    "added", _("Added"), kind_label(change.kind),
                    _named(change.after.name, describe_rule(change.kind, change.after.params)),
                )
            )  # fmt: skip
        elif change.change == "removed" and change.before is not None:
            described.append(
                ChangeInWords(
                    "removed", _("Removed"), kind_label(change.kind),
                    _named(change.before.name, describe_rule(change.kind, change.before.params)),
                )
            )  # fmt: skip
        elif change.before is not None and change.after is not None:
            described.append(
                ChangeInWords(
                    "changed", _("Changed"), kind_label(change.kind),
                    _named(change.after.name, describe_rule(change.kind, change.after.params)),
                    _named(change.before.name, describe_rule(change.kind, change.before.params)),
                )
            )  # fmt: skip
    return described


def _named(name: str, text: str) -> str:
    return f"{name}: {text}" if name else text


def reason_words(*, source: str, kind: str, description: str, rule_params: Any) -> str:
    """Why a purchase earned some of its points, in a sentence a member understands:
    the rule that gave them (as the rule reads when it is shown to staff) or the
    campaign by name."""
    if source == "campaign":
        return _("Campaign: %(name)s") % {"name": description}
    if rule_params is not None:
        return describe_rule(kind, rule_params)
    return kind_label(kind)
