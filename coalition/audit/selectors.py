"""Reading the audit log, newest first, a page at a time (keyset on id)."""

from __future__ import annotations

from django.db.models import QuerySet

from coalition.audit.models import AuditEntry


def audit_entries(
    *, partner_id: int | None, action_prefix: str = "", before_id: int | None = None
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.filter(partner_id=partner_id)
    if action_prefix:
        entries = entries.filter(action__startswith=action_prefix)
    if before_id is not None:
        entries = entries.filter(pk__lt=before_id)
    return entries.order_by("-pk")


def audit_entries_everywhere(
    *, action_prefix: str = "", before_id: int | None = None
) -> QuerySet[AuditEntry]:
    """Every partner's entries and the coalition's own (no partner), for the operator."""
    entries = AuditEntry.objects.all()
    if action_prefix:
        entries = entries.filter(action__startswith=action_prefix)
    if before_id is not None:
        entries = entries.filter(pk__lt=before_id)
    return entries.order_by("-pk")


def audit_entries_about(*, object_type: str, object_id: str) -> QuerySet[AuditEntry]:
    """Every entry about one object (a member by number, say), wherever it was
    recorded, newest first (the ``audit_object`` index)."""
    return AuditEntry.objects.filter(object_type=object_type, object_id=object_id).order_by("-pk")
