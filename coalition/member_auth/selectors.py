"""Reading members' sign-in state."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from coalition.member_auth.models import MemberSessionGeneration
from coalition.members.models import Member, MemberStatus


def member_session_generation(member_id: int) -> int:
    row = MemberSessionGeneration.objects.filter(member_id=member_id).only("generation").first()
    return row.generation if row else 0


def member_for_session(member_id: int, generation: int) -> Member | None:
    """The member a portal session names if that member is still active and the
    session was not revoked by "sign out everywhere"; otherwise None. One query."""
    current = Subquery(
        MemberSessionGeneration.objects.filter(member_id=OuterRef("pk")).values("generation")[:1]
    )
    member = (
        Member.objects.filter(pk=member_id, status=MemberStatus.ACTIVE)
        .annotate(session_generation=Coalesce(current, Value(0)))
        .first()
    )
    if member is None or member.session_generation != generation:
        return None
    return member
