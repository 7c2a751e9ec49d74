"""Reads of operator staff: a user's operator role and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import get_public_schema_name

from coalition.audit.models import AuditEntry
from coalition.operators.models import OperatorInvitation, OperatorMembership, OperatorRole
from coalition.settlement.models import SettlementTerms
from tenants.partners.models import Domain, Partner, PartnerStatusChange

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ADMIN = OperatorRole.ADMIN
FINANCE = OperatorRole.FINANCE
SUPPORT = OperatorRole.SUPPORT
READ_ONLY = OperatorRole.READ_ONLY

# What each operator role may do in the operator console. The one place this
# rule lives: views ask ``operator_can``. Later areas (settlement, programme,
# reports, member support) add their capabilities here.
CAPABILITIES: dict[str, frozenset[str]] = {
    "view_partners": frozenset(OperatorRole.values),
    "export": frozenset(OperatorRole.values),
    "onboard_partners": frozenset({ADMIN}),
    "change_partner_status": frozenset({ADMIN}),
    "manage_operators": frozenset({ADMIN}),
    "manage_terms": frozenset({ADMIN, FINANCE}),
    "run_settlement": frozenset({ADMIN, FINANCE}),
    "pay_out": frozenset({ADMIN, FINANCE}),
    "read_reports": frozenset({ADMIN, FINANCE, READ_ONLY}),
    # The programme (tier levels and policy, expiry, transfer caps, charities):
    # every operator may read what is in force; only admins change it.
    "view_programme": frozenset(OperatorRole.values),
    "configure_programme": frozenset({ADMIN}),
    # Member support. Read-only staff may look members up and read their page,
    # history and CSV (they answer questions and check complaints), but see the
    # e-mail address masked like partner staff do, and change nothing; finance
    # has no business with single members. Admins and support see the whole
    # address (they confirm who is on the phone), block, unblock and erase.
    "view_members": frozenset({ADMIN, SUPPORT, READ_ONLY}),
    "see_member_contact": frozenset({ADMIN, SUPPORT}),
    "support_members": frozenset({ADMIN, SUPPORT}),
    "read_audit": frozenset({ADMIN, FINANCE}),
    # Coalition goodwill (four eyes): support and admins propose points the
    # coalition gives a member; above the threshold another operator who answers
    # for the liability (admin, finance) approves or rejects. Everyone who may look
    # at members or reports reads the queue.
    "propose_goodwill": frozenset({ADMIN, SUPPORT}),
    "approve_goodwill": frozenset({ADMIN, FINANCE}),
    "view_goodwill": frozenset(OperatorRole.values),
}

# Roles that may not use the console before two-step sign-in is on.
TWO_FACTOR_REQUIRED: frozenset[str] = frozenset({ADMIN, FINANCE})


def operator_can(role: str | None, capability: str) -> bool:
    return role is not None and role in CAPABILITIES[capability]


def operator_role(*, user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return OperatorMembership.objects.filter(user_id=user.pk).values_list("role", flat=True).first()


def two_factor_required(role: str | None) -> bool:
    return role in TWO_FACTOR_REQUIRED


def operators_all() -> QuerySet[OperatorMembership]:
    return OperatorMembership.objects.select_related("user").order_by("user__email", "pk")


class TwoStepState(TypedDict):
    two_step_on: bool


def operators_listed() -> QuerySet[WithAnnotations[OperatorMembership, TwoStepState]]:
    """Operator staff by address, each with ``two_step_on``: whether their two-step
    sign-in is on (a confirmed authenticator device)."""
    return operators_all().annotate(
        two_step_on=Exists(TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True))
    )


def operator_of(user_id: int) -> WithAnnotations[OperatorMembership, TwoStepState] | None:
    return operators_listed().filter(user_id=user_id).first()


def operator_invitations_pending(*, now: Any) -> QuerySet[OperatorInvitation]:
    return (
        OperatorInvitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


# --- partners, as the operator sees them -------------------------------------------------


def partners_listed(
    *, status: str = "", currency: str = "", text: str = "", before_id: int | None = None
) -> QuerySet[Partner]:
    """Partners newest first, with their primary host as ``host``; filtered by
    status, currency and a piece of the name or slug, below a keyset cursor."""
    rows = Partner.objects.exclude(schema_name=get_public_schema_name()).annotate(
        host=Subquery(
            Domain.objects.filter(tenant_id=OuterRef("pk"), is_primary=True).values("domain")[:1]
        )
    )
    if status:
        rows = rows.filter(status=status)
    if currency:
        rows = rows.filter(default_currency=currency.upper())
    if text:
        rows = rows.filter(Q(name__icontains=text) | Q(slug__icontains=text.lower()))
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    return rows.order_by("-pk")


def partner_for_operator(slug: str) -> Partner | None:
    return (
        Partner.objects.exclude(schema_name=get_public_schema_name())
        .annotate(
            host=Subquery(
                Domain.objects.filter(tenant_id=OuterRef("pk"), is_primary=True).values("domain")[
                    :1
                ]
            )
        )
        .filter(slug=slug)
        .first()
    )


def partner_status_history(partner_id: int) -> QuerySet[PartnerStatusChange]:
    return (
        PartnerStatusChange.objects.filter(partner_id=partner_id)
        .select_related("acting_user")
        .order_by("-changed_at", "-pk")
    )


# --- settlement terms ------------------------------------------------------------------


@dataclass(frozen=True)
class TermsVersion:
    terms: SettlementTerms
    state: str  # "in_force", "scheduled" or "past"
    set_by: str  # the operator's address; "" when set outside the console


def partner_terms_history(partner_id: int, *, now: datetime) -> list[TermsVersion]:
    """A partner's terms versions, the latest effective date first, each with
    whether it is in force, scheduled or past, and who set it (the audit log)."""
    versions = list(
        SettlementTerms.objects.filter(partner_id=partner_id).order_by("-effective_from")
    )
    set_by = dict(
        AuditEntry.objects.filter(
            action="settlement.terms_set",
            object_type="settlement_terms",
            object_id__in=[str(terms.pk) for terms in versions],
        ).values_list("object_id", "actor_label")
    )
    in_force = next((t.pk for t in versions if t.effective_from <= now), None)
    return [
        TermsVersion(
            terms,
            "in_force" if terms.pk == in_force
            else "scheduled" if terms.effective_from > now else "past",
            set_by.get(str(terms.pk), ""),
        )
        for terms in versions
    ]  # fmt: skip
