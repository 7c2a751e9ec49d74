"""Reads of staff: a user's role at a partner, what a role may do, who works where."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tenants.staff.models import Role, StaffInvitation, StaffMembership

# What each role may do in the merchant console (and the partner API's staff
# operations). The one place this rule lives: views ask ``staff_can``.
CAPABILITIES: dict[str, frozenset[str]] = {
    "view_dashboard": frozenset(Role.values),
    "look_up_members": frozenset(Role.values),
    "serve_till": frozenset({Role.OWNER, Role.MANAGER, Role.CASHIER}),
    "read_reports": frozenset({Role.OWNER, Role.MANAGER, Role.ANALYST}),
    "export": frozenset({Role.OWNER, Role.MANAGER, Role.ANALYST}),
    "configure_programme": frozenset({Role.OWNER, Role.MANAGER}),
    "adjust_points": frozenset({Role.OWNER, Role.MANAGER}),
    "record_returns": frozenset({Role.OWNER, Role.MANAGER}),
    "read_audit": frozenset({Role.OWNER, Role.MANAGER}),
    "manage_staff": frozenset({Role.OWNER}),
    "manage_integration": frozenset({Role.OWNER}),
}


def staff_can(role: str | None, capability: str) -> bool:
    return role is not None and role in CAPABILITIES[capability]


def staff_role(*, user: Any, partner_id: int) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        StaffMembership.objects.filter(user_id=user.pk, partner_id=partner_id)
        .values_list("role", flat=True)
        .first()
    )


def staff_of_partner(*, partner_id: int) -> QuerySet[StaffMembership]:
    return (
        StaffMembership.objects.filter(partner_id=partner_id)
        .select_related("user")
        .order_by("user__email", "pk")
    )


def invitations_pending(*, partner_id: int, now: Any) -> QuerySet[StaffInvitation]:
    return StaffInvitation.objects.filter(
        partner_id=partner_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).order_by("-created_at", "-pk")
