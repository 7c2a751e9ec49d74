"""A member's session generation (public schema)."""

from __future__ import annotations

from django.db import models


class MemberSessionGeneration(models.Model):
    """Sessions remember the generation they started in; "sign out everywhere" adds
    one, so every session started before it is refused. No row means generation 0."""

    member = models.OneToOneField(
        "members.Member", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    generation = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.member_id}: {self.generation}"
