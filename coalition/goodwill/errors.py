"""Typed errors of coalition goodwill proposals: each has a code unique across the
platform."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class GoodwillError(DomainError):
    code = "goodwill_error"


class GoodwillPointsInvalid(GoodwillError):
    code = "goodwill_points_invalid"
    field = "points"


class GoodwillReasonMissing(GoodwillError):
    code = "goodwill_reason_missing"
    field = "reason"


class GoodwillReasonTooLong(GoodwillError):
    code = "goodwill_reason_too_long"
    field = "reason"


class GoodwillNotAllowed(GoodwillError):
    """The operator's role may not propose (or approve, or reject) goodwill."""

    code = "goodwill_not_allowed"


class GoodwillSelfApproval(GoodwillError):
    """Four eyes: the operator who proposed an adjustment never decides it."""

    code = "goodwill_self_approval"


class GoodwillAlreadyDecided(GoodwillError):
    """The proposal was approved or rejected already (by someone else, or by this
    operator with another decision): nothing changes."""

    code = "goodwill_already_decided"


class GoodwillProposalExpired(GoodwillError):
    code = "goodwill_proposal_expired"


class GoodwillMemberNotActive(GoodwillError):
    """The member is blocked or erased: no points are given."""

    code = "goodwill_member_not_active"


class GoodwillRequestReused(GoodwillError):
    """The form's request key came back with another request."""

    code = "goodwill_request_reused"


class GoodwillProposalUnknown(GoodwillError):
    code = "goodwill_proposal_unknown"
