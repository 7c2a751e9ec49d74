"""Coalition goodwill pages of the operator console (four eyes): on a member's
page, support and admins propose points the coalition gives them (given at once
at or below the approval threshold); the queue lists the proposals waiting for a
second operator, whom admins and finance approve or reject with a reason, and
the recent decisions, with a CSV export.

The rules (threshold, who may decide, never one's own proposal, at most once,
expiry, blocked members) are ``coalition.goodwill``'s; each view reads its input,
calls one service or selector and renders. A form's one-time key makes a double
submit of a proposal one proposal; pressing approve twice posts once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from coalition.goodwill import selectors as goodwill_selectors
from coalition.goodwill import services as goodwill
from coalition.goodwill.models import GoodwillProposal, GoodwillStatus
from coalition.members.models import MemberStatus
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_web.design import member_pages
from loyalty_web.design.exports import csv_response
from loyalty_web.design.pages import render_page
from loyalty_web.operator.access import denied, may, operator_context, operator_page
from loyalty_web.operator.goodwill_forms import GoodwillProposalForm, GoodwillRejectForm
from loyalty_web.operator.members import _profile

PROPOSE = "propose_goodwill"
APPROVE = "approve_goodwill"
VIEW = "view_goodwill"
DECIDED_ON_PAGE = 50

STATUS_WORDS = {
    GoodwillStatus.PROPOSED: (gettext_lazy("Waiting for approval"), "tag--warn"),
    GoodwillStatus.POSTED: (gettext_lazy("Given"), "tag--ok"),
    GoodwillStatus.REJECTED: (gettext_lazy("Rejected"), "tag--bad"),
    GoodwillStatus.EXPIRED: (gettext_lazy("Expired"), ""),
}
# The domain's refusals in the page's words (and language), by stable code.
ERROR_WORDS = {
    "goodwill_self_approval": gettext_lazy(
        "You proposed this: another operator must approve or reject it"
    ),
    "goodwill_already_decided": gettext_lazy("This proposal was already decided"),
    "goodwill_proposal_expired": gettext_lazy("This proposal expired before anyone decided it"),
    "goodwill_member_not_active": gettext_lazy(
        "The member is blocked or erased: no points can be given"
    ),
    "goodwill_not_allowed": gettext_lazy("Your role may not do this"),
    "goodwill_request_reused": gettext_lazy("This form was already sent with other values"),
    "goodwill_proposal_unknown": gettext_lazy("There is no such proposal"),
}


def _words(error: DomainError) -> str:
    return str(ERROR_WORDS.get(error.code, error.message))


def _row(proposal: GoodwillProposal, now: Any, user_id: int | None) -> dict[str, Any]:
    status = goodwill_selectors.status_of(proposal, now)
    label, css = STATUS_WORDS.get(GoodwillStatus(status), (status, ""))
    return {
        "id": proposal.pk,
        "number": proposal.member.member_number,
        "points": proposal.points,
        "reason": proposal.reason,
        "proposed_by": proposal.proposed_by_label,
        "proposed_at": proposal.created_at,
        "expires_at": proposal.expires_at,
        "status": status,
        "status_label": str(label),
        "status_css": css,
        "decided_by": proposal.decided_by_label,
        "decided_at": proposal.decided_at,
        "decision_reason": proposal.decision_reason,
        "own": proposal.proposed_by_id is not None and proposal.proposed_by_id == user_id,
        "transaction": proposal.ledger_transaction_id,
    }


# --- proposing, from the member's page ----------------------------------------------------


@operator_page(PROPOSE)
@require_http_methods(["GET", "POST"])
def goodwill_propose(request: HttpRequest, number: str) -> HttpResponseBase:
    member = member_pages.member_or_404(number)
    form = GoodwillProposalForm(request.POST or None, initial={"request_key": uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = goodwill.goodwill_propose(
                member_id=member.pk,
                points=data["points"],
                reason=data["reason"],
                acting_user=request.user,
                request_key=f"operator:{data['request_key']}",
            )
        except DomainError as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, _words(error))
        else:
            points = f"{result.proposal.points:,}"
            if result.posted:
                messages.success(
                    request,
                    _("%(points)s points of coalition goodwill were given to member %(number)s.")
                    % {"points": points, "number": member.member_number},
                )
            else:
                messages.success(
                    request,
                    _(
                        "Your proposal of %(points)s points waits for another operator's "
                        "approval (more than %(threshold)s points)."
                    )
                    % {
                        "points": points,
                        "threshold": f"{goodwill_selectors.goodwill_approval_threshold():,}",
                    },
                )
            return HttpResponseRedirect(reverse("operator:member", args=[member.member_number]))
    return render_page(
        request,
        "loyalty_web/operator/members/goodwill.html",
        operator_context(
            request,
            "members",
            member=member,
            profile=_profile(request, member),
            allowed=member.status == MemberStatus.ACTIVE,
            threshold=goodwill_selectors.goodwill_approval_threshold(),
            form=form,
        ),
        status=400 if form.errors else 200,
    )


# --- the queue ------------------------------------------------------------------------------


@operator_page(VIEW)
def goodwill_queue(request: HttpRequest) -> HttpResponseBase:
    """Proposals waiting for a second operator (oldest first) and recent decisions."""
    now = clock.now()
    if request.GET.get("format") == "csv":
        if not may(request, "export"):
            return denied(request)
        return csv_response(
            f"goodwill-{now:%Y-%m-%d}.csv",
            ["proposal", "member", "points", "reason", "status", "proposed_by", "proposed_at",
             "decided_by", "decided_at", "decision_reason", "transaction"],
            _csv_rows(now),
        )  # fmt: skip
    user_id = getattr(request.user, "pk", None)
    pending = [_row(p, now, user_id) for p in goodwill_selectors.proposals_pending(now=now)]
    decided = [
        _row(p, now, user_id)
        for p in goodwill_selectors.proposals_decided(now=now)[:DECIDED_ON_PAGE]
    ]
    return render_page(
        request,
        "loyalty_web/operator/members/goodwill_queue.html",
        operator_context(
            request,
            "goodwill",
            pending=pending,
            decided=decided,
            can_approve=may(request, APPROVE),
            can_export=may(request, "export"),
            threshold=goodwill_selectors.goodwill_approval_threshold(),
            reject_form=GoodwillRejectForm(),
        ),
    )


def _csv_rows(now: Any) -> Iterator[list[Any]]:
    for proposal in goodwill_selectors.proposals_all().iterator(chunk_size=500):
        yield [
            proposal.pk,
            proposal.member.member_number,
            proposal.points,
            proposal.reason,
            goodwill_selectors.status_of(proposal, now),
            proposal.proposed_by_label,
            proposal.created_at.isoformat(),
            proposal.decided_by_label,
            proposal.decided_at.isoformat() if proposal.decided_at else "",
            proposal.decision_reason,
            proposal.ledger_transaction_id or "",
        ]


@operator_page(APPROVE)
@require_POST
def goodwill_decide(request: HttpRequest, proposal_id: int, decision: str) -> HttpResponseBase:
    """Approve (the member gets the points) or reject (with a reason) a proposal."""
    if decision not in ("approve", "reject"):
        raise Http404
    queue = HttpResponseRedirect(reverse("operator:goodwill"))
    try:
        if decision == "approve":
            result = goodwill.goodwill_approve(proposal_id=proposal_id, acting_user=request.user)
            if not result.replayed:
                messages.success(
                    request,
                    _("%(points)s points were given to member %(number)s.")
                    % {
                        "points": f"{result.proposal.points:,}",
                        "number": result.proposal.member.member_number,
                    },
                )
            return queue
        form = GoodwillRejectForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say why you reject it, for the proposer and the audit log"))
            return queue
        result = goodwill.goodwill_reject(
            proposal_id=proposal_id, acting_user=request.user, reason=form.cleaned_data["reason"]
        )
        if not result.replayed:
            messages.success(request, _("The proposal was rejected: no points were given."))
    except DomainError as error:
        messages.error(request, _words(error))
    return queue
