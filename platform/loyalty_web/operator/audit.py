"""The operator's audit log: every change recorded in the coalition (operator staff,
partner onboarding and lifecycle, and every partner's console), newest first, with
a filter on where and on the kind of change, keyset pages and CSV."""

from __future__ import annotations

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy

from coalition.audit.selectors import audit_entries, audit_entries_everywhere
from coalition.operators.selectors import partner_for_operator
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from loyalty_web.design.pagination import cursor_of, keyset_page, page_links
from loyalty_web.operator.access import operator_context, operator_page
from tenants.partners.models import Partner

PAGE_SIZE = 50
OPERATOR_ONLY = "coalition"
# Action prefixes recorded by the domain services.
KINDS = [
    ("operator.", gettext_lazy("Operator staff")),
    ("partner.", gettext_lazy("Partners")),
    ("member.", gettext_lazy("Members")),
    ("programme.", gettext_lazy("Programme")),
    ("staff.", gettext_lazy("Staff and invitations")),
    ("store.", gettext_lazy("Stores")),
    ("earn_rules.", gettext_lazy("Earn rules")),
    ("campaigns.", gettext_lazy("Campaigns")),
    ("rewards.", gettext_lazy("Rewards")),
    ("api_key.", gettext_lazy("API keys")),
    ("webhook.", gettext_lazy("Webhooks")),
]


@operator_page("read_audit")
def audit_log(request: HttpRequest) -> HttpResponseBase:
    where = request.GET.get("where", "")[:60]
    action = request.GET.get("action", "")[:60]
    before = cursor_of(request.GET)
    partner = partner_for_operator(where) if where and where != OPERATOR_ONLY else None
    if where == OPERATOR_ONLY:
        entries = audit_entries(partner_id=None, action_prefix=action, before_id=before)
    elif partner is not None:
        entries = audit_entries(partner_id=partner.pk, action_prefix=action, before_id=before)
    else:
        where = ""
        entries = audit_entries_everywhere(action_prefix=action, before_id=before)
    names = dict(Partner.objects.values_list("pk", "slug"))
    if request.GET.get("format") == "csv":
        return csv_response(
            "audit-coalition.csv",
            ["at", "partner", "who", "action", "object", "before", "after"],
            (
                [e.at.isoformat(), names.get(e.partner_id, ""), e.actor_label, e.action,
                 f"{e.object_type} {e.object_id}", e.before, e.after]
                for e in entries.iterator()
            ),
        )  # fmt: skip
    page = keyset_page(entries, size=PAGE_SIZE, first_page=before is None)
    return render_page(
        request,
        "loyalty_web/operator/audit.html",
        operator_context(
            request,
            "audit",
            rows=[{"entry": e, "partner": names.get(e.partner_id, "")} for e in page.items],
            where=where,
            action=action,
            partners=sorted(names.values()),
            operator_only=OPERATOR_ONLY,
            action_choices=KINDS,
            **page_links(page, request.GET),
        ),
        partial="loyalty_web/operator/audit_rows.html",
    )
