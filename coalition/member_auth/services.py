"""Changing members' sign-in state."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from coalition.member_auth.models import MemberSessionGeneration
from coalition.members.models import Member
from loyalty_kernel import clock


@transaction.atomic
def member_sign_out_everywhere(*, member: Member) -> int:
    """End every portal session of this member (on every device); returns the new
    generation, which sessions started from now on carry."""
    now = clock.now()
    row, created = MemberSessionGeneration.objects.get_or_create(
        member=member, defaults={"generation": 1, "changed_at": now}
    )
    if not created:
        MemberSessionGeneration.objects.filter(pk=row.pk).update(
            generation=F("generation") + 1, changed_at=now
        )
        row.refresh_from_db(fields=["generation"])
    return row.generation
