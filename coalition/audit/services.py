"""Recording audit entries."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from coalition.audit.models import AuditEntry


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Dates, decimals and UUIDs become strings the way the API shows them.
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: Any,
    partner_id: int | None,
    action: str,
    target: tuple[str, Any],
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one change; call it inside the transaction that makes the change."""
    actor_id = getattr(actor, "pk", None)
    label = (getattr(actor, "email", "") or getattr(actor, "username", "")) if actor_id else ""
    return AuditEntry.objects.create(
        actor_id=actor_id,
        actor_label=(label or ("system" if actor is None else str(actor)))[:254],
        partner_id=partner_id,
        action=action,
        object_type=target[0],
        object_id=str(target[1]),
        before=_plain(before),
        after=_plain(after),
    )
