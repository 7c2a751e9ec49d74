"""Earn rules, their versions, campaigns, segments and behavioural awards (tenant schema)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class RuleSetVersion(models.Model):
    """An immutable set of earn rules, in force from ``effective_from`` until the
    next published version. Drafts can change; a published version never does, so
    every purchase can be recomputed with exactly the rules it was earned under."""

    number = models.PositiveIntegerField(unique=True)
    description = models.CharField(max_length=200, blank=True)
    effective_from = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-number"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(published_at__isnull=True)
                | models.Q(effective_from__isnull=False),
                name="published_version_has_effective_from",
            ),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=models.Q(published_at__isnull=False),
                name="one_version_per_effective_instant",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class EarnRule(models.Model):
    version = models.ForeignKey(RuleSetVersion, on_delete=models.PROTECT, related_name="rules")
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=120, blank=True)
    params = models.JSONField(default=dict)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class CampaignStatus(models.TextChoices):
    """What staff decided: a campaign earns only while ``active`` (and inside its
    time window); ``paused`` can resume; ``ended`` is final."""

    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class Campaign(models.Model):
    """A time-boxed multiplier or bonus, targeted by tier or segment, with a budget
    on the points it may issue. A budget is split over ``CampaignBudgetBucket``
    counters (the points issued are their sum, never more than the budget)."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    tiers = models.JSONField(default=list, blank=True)  # tier codes; empty: all
    segments = models.JSONField(default=list, blank=True)  # segment names; empty: all
    budget_points = models.BigIntegerField(null=True, blank=True)  # null: unlimited
    status = models.CharField(
        max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.ACTIVE
    )
    ended_at = models.DateTimeField(null=True, blank=True)  # when staff ended it
    # The create form's (or API call's) idempotency key: a second submit of the
    # same form finds the campaign the first one made.
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["starts_at", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "paused", "ended"]),
                name="campaign_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(budget_points__isnull=True) | models.Q(budget_points__gte=0),
                name="campaign_budget_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignBudgetBucket(models.Model):
    """One of a budgeted campaign's counters: ``allotted`` is its share of the
    budget (the shares add up to the budget), ``issued`` what it has given.

    Every purchase a budgeted campaign gives points to counts them against its
    budget; one counter row would serialise those purchases (the ledger's hot
    accounts avoid the same). A purchase takes from the bucket of its member
    (member id modulo the bucket count), locking that row only; only when that
    bucket cannot cover it does it lock all of the campaign's buckets, in order,
    and take what is left anywhere. Each bucket never issues past its share, so
    the campaign never issues past its budget (the database checks it too)."""

    # Indexed by ``one_budget_bucket`` (campaign, bucket), which serves lookups by
    # campaign alone too: no index of its own.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    bucket = models.PositiveSmallIntegerField()
    allotted = models.BigIntegerField()
    issued = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["campaign", "bucket"], name="one_budget_bucket"),
            models.CheckConstraint(
                condition=models.Q(issued__gte=0, issued__lte=models.F("allotted")),
                name="budget_bucket_within_its_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.bucket}: {self.issued}/{self.allotted}"


class Segment(models.Model):
    """A named group of members a partner targets campaigns at."""

    name = models.SlugField(max_length=60, unique=True)
    description = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    # Indexed by ``segment_member_once`` (segment, member), which serves lookups by
    # segment alone too: no index of its own.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["segment", "member"], name="segment_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.member_id}"


class BehaviourEvent(models.TextChoices):
    SIGNUP = "signup", "Sign-up"
    REFERRAL = "referral", "Referral"
    REVIEW = "review", "Product review"
    NEWSLETTER = "newsletter", "Newsletter subscription"
    PROFILE_COMPLETION = "profile_completion", "Profile completion"
    BIRTHDAY = "birthday", "Birthday"


class BehaviourRule(models.Model):
    """Points for a member action, awarded at most ``max_awards`` times per
    ``period`` (lifetime or calendar year) per member."""

    event = models.CharField(max_length=24, choices=BehaviourEvent.choices, unique=True)
    points = models.PositiveIntegerField()
    # For referrals: points to the new member; ``points`` go to the referrer.
    referee_points = models.PositiveIntegerField(default=0)
    max_awards = models.PositiveIntegerField(default=1)
    period = models.CharField(
        max_length=10, choices=[("lifetime", "Lifetime"), ("year", "Calendar year")],
        default="lifetime",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.event}: {self.points}"


class BehaviourAward(models.Model):
    # Indexed by ``award_slot_once`` (member, event, period, sequence), which serves
    # lookups by member alone too: no index of its own.
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    event = models.CharField(max_length=24, choices=BehaviourEvent.choices)
    points = models.PositiveIntegerField()
    period_key = models.CharField(max_length=10)  # "lifetime" or the year
    sequence = models.PositiveIntegerField()  # 1..max_awards within the period
    reference = models.CharField(max_length=120, blank=True)  # review id, referee, ...
    ledger_transaction_id = models.BigIntegerField()
    awarded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            # The database refuses a second award in the same slot, even under races.
            models.UniqueConstraint(
                fields=["member", "event", "period_key", "sequence"], name="award_slot_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.sequence} for {self.member_id}"


class ReferralStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"


class Referral(models.Model):
    """Every referral attempt, accepted or refused with the reason."""

    referrer = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    referee = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ReferralStatus.choices)
    reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["referee"],
                condition=models.Q(status="accepted"),
                name="referee_referred_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id}->{self.referee_id} {self.status}"
