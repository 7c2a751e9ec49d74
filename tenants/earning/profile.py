"""A member completes their profile in the portal: every partner whose behaviour
rules reward "profile completion" awards its points, once per member (the award
reference makes a later completion, after removing and re-entering a detail,
return the first award instead of a second)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from coalition.members.profile import ProfileEntry, ProfileUpdate, member_profile_update
from loyalty_kernel.errors import DomainError
from loyalty_kernel.tenancy import in_tenant
from tenants.earning.models import BehaviourEvent, BehaviourRule
from tenants.earning.services import behaviour_award
from tenants.partners.models import Partner, PartnerStatus

logger = logging.getLogger(__name__)

PROFILE_REFERENCE = "profile-complete"


@dataclass(frozen=True)
class ProfileAward:
    partner_name: str
    points: int


@dataclass(frozen=True)
class ProfileSaved:
    update: ProfileUpdate
    awards: list[ProfileAward]


def profile_completion_awards(*, member_id: int, now: datetime | None = None) -> list[ProfileAward]:
    """Each active partner with an active profile-completion rule awards it."""
    awards = []
    for partner in Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("pk"):
        with in_tenant(partner):
            if not BehaviourRule.objects.filter(
                event=BehaviourEvent.PROFILE_COMPLETION, is_active=True
            ).exists():
                continue
            try:
                result = behaviour_award(
                    member_id=member_id,
                    event=BehaviourEvent.PROFILE_COMPLETION,
                    reference=PROFILE_REFERENCE,
                    now=now,
                )
            except DomainError as refused:  # the rule's limit: no points from this one
                logger.info("no profile points from %s: %s", partner.slug, refused.message)
                continue
            awards.append(ProfileAward(partner.name, result.points))
    return awards


def member_profile_save(
    *,
    member_id: int,
    channel: str = "portal",
    now: datetime | None = None,
    **entry: Unpack[ProfileEntry],
) -> ProfileSaved:
    """Save the member's profile (each change recorded); when it becomes complete,
    the partners' profile-completion rules award their points."""
    update = member_profile_update(member_id=member_id, channel=channel, now=now, **entry)
    awards = profile_completion_awards(member_id=member_id, now=now) if update.completed_now else []
    return ProfileSaved(update, awards)
