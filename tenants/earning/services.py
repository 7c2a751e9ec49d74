"""Writes of a partner's earning set-up (call inside the partner's schema):
rule versions, campaigns, segments, behavioural awards and referrals.

The module is longer than 500 lines because the two member awards (behaviour,
referral) share the set-up's audit, its partner-local clock and its active-member
check; move them to a module of their own when a third kind of award arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from coalition.audit.services import audit_record
from coalition.expiry.services import lot_expiry_for
from coalition.ledger import services as ledger
from coalition.members.services import member_get_active
from coalition.tiers.upgrades import tier_upgrade_after_earn
from loyalty_kernel.idempotency import IdempotencyKey
from loyalty_kernel.tenancy import current_tenant
from tenants.earning import engine
from tenants.earning.budgets import budget_buckets_create
from tenants.earning.errors import (
    AwardLimitReached,
    BehaviourNotConfigured,
    CampaignEnded,
    InvalidEffectiveDate,
    InvalidRule,
    NotBirthday,
    UnknownCampaign,
    VersionNotDraft,
)
from tenants.earning.models import (
    BehaviourAward,
    BehaviourEvent,
    BehaviourRule,
    Campaign,
    CampaignStatus,
    EarnRule,
    Referral,
    ReferralStatus,
    RuleSetVersion,
    Segment,
    SegmentMember,
)

# --- rule versions -------------------------------------------------------------
#
# Every change to a version writes an audit row (``actor``: the person or API key
# that made it; ``None`` for the platform itself, like the demo seed).


def _audit_version(
    actor: Any, action: str, version: RuleSetVersion, before: dict[str, Any] | None
) -> None:
    audit_record(
        actor=actor,
        partner_id=current_tenant().pk,
        action=action,
        target=("rule_version", version.number),
        before=before,
        after=version_state(version),
    )


def version_state(version: RuleSetVersion) -> dict[str, Any]:
    """What the audit log shows of a rule version: its rules and publication."""
    return {
        "number": version.number,
        "description": version.description,
        "effective_from": version.effective_from,
        "published_at": version.published_at,
        "rules": [
            {"id": rule.pk, "kind": rule.kind, "name": rule.name, "params": rule.params}
            for rule in version.rules.order_by("position", "id")
        ],
    }


def _draft_locked(version: RuleSetVersion) -> RuleSetVersion:
    locked = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
    if locked.published_at is not None:
        raise VersionNotDraft(
            f"version {locked.number} is published and cannot change: start a new draft"
        )
    return locked


def ruleset_draft_create(
    *, description: str = "", copy_from: RuleSetVersion | None = None, actor: Any = None
) -> RuleSetVersion:
    """A new draft version, optionally starting from an existing version's rules."""
    if len(description) > 200:
        raise InvalidRule("a description has 200 characters or fewer", field="description")
    with transaction.atomic():
        # Version numbers are taken one at a time (two drafts created at once
        # would otherwise both read the same highest number).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 2)")
        number = (RuleSetVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1
        version = RuleSetVersion.objects.create(number=number, description=description)
        if copy_from is not None:
            EarnRule.objects.bulk_create(
                EarnRule(
                    version=version,
                    kind=rule.kind,
                    name=rule.name,
                    params=rule.params,
                    position=rule.position,
                )
                for rule in copy_from.rules.all()
            )
        _audit_version(actor, "earn_rules.draft", version, None)
    return version


def rule_add(
    *,
    version: RuleSetVersion,
    kind: str,
    params: dict[str, Any],
    name: str = "",
    actor: Any = None,
) -> EarnRule:
    engine.validate_rule(engine.Rule(0, kind, params, name))
    if len(name) > 120:
        raise InvalidRule("a rule name has 120 characters or fewer", field="name")
    with transaction.atomic():
        locked = _draft_locked(version)
        before = version_state(locked)
        position = (locked.rules.aggregate(top=Max("position"))["top"] or 0) + 1
        rule = EarnRule.objects.create(
            version=locked, kind=kind, params=params, name=name, position=position
        )
        _audit_version(actor, "earn_rules.rule_add", locked, before)
    return rule


def rule_update(
    *, rule: EarnRule, params: dict[str, Any], name: str | None = None, actor: Any = None
) -> EarnRule:
    """Change a draft's rule (its kind stays: another kind is another rule)."""
    name = rule.name if name is None else name
    engine.validate_rule(engine.Rule(rule.pk, rule.kind, params, name))
    if len(name) > 120:
        raise InvalidRule("a rule name has 120 characters or fewer", field="name")
    with transaction.atomic():
        locked = _draft_locked(rule.version)
        before = version_state(locked)
        EarnRule.objects.filter(pk=rule.pk).update(params=params, name=name)
        _audit_version(actor, "earn_rules.rule_change", locked, before)
    rule.refresh_from_db()
    return rule


def rule_remove(*, rule: EarnRule, actor: Any = None) -> None:
    with transaction.atomic():
        locked = _draft_locked(rule.version)
        before = version_state(locked)
        EarnRule.objects.filter(pk=rule.pk).delete()
        _audit_version(actor, "earn_rules.rule_remove", locked, before)


def ruleset_publish(
    *,
    version: RuleSetVersion,
    effective_from: datetime,
    now: datetime | None = None,
    actor: Any = None,
) -> RuleSetVersion:
    """Publish a draft from ``effective_from`` (not in the past: purchases already
    earned under the rules in force must keep being computed the same way).
    Publishing twice is refused (``VersionNotDraft``): the version is locked and
    its state checked, so two presses of the button publish once."""
    now = now or timezone.now()
    if timezone.is_naive(effective_from):
        raise InvalidEffectiveDate("effective_from needs a time zone")
    if effective_from < now - timedelta(seconds=1):
        raise InvalidEffectiveDate(
            "a rule version cannot take effect in the past: choose now or a later date and time"
        )
    with transaction.atomic():
        locked = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
        if locked.published_at is not None:
            raise VersionNotDraft(f"version {locked.number} is already published")
        before = version_state(locked)
        rules = [engine.Rule(r.pk, r.kind, r.params, r.name) for r in locked.rules.all()]
        if not any(rule.kind == "base_rate" for rule in rules):
            raise engine.InvalidRule("a version needs a base_rate rule", field="rules")
        for rule in rules:
            engine.validate_rule(rule)
        if RuleSetVersion.objects.filter(
            published_at__isnull=False, effective_from=effective_from
        ).exists():
            raise InvalidEffectiveDate("another version takes effect at that instant")
        locked.effective_from = effective_from
        locked.published_at = now
        locked.save(update_fields=["effective_from", "published_at"])
        _audit_version(actor, "earn_rules.publish", locked, before)
    return locked


# --- campaigns and segments ----------------------------------------------------------


def campaign_state_of(campaign: Campaign) -> dict[str, Any]:
    """What the audit log shows of a campaign."""
    return {
        "name": campaign.name,
        "kind": campaign.kind,
        "params": campaign.params,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "tiers": campaign.tiers,
        "segments": campaign.segments,
        "budget_points": campaign.budget_points,
        "status": campaign.status,
        "ended_at": campaign.ended_at,
    }


def _audit_campaign(
    actor: Any, action: str, campaign: Campaign, before: dict[str, Any] | None
) -> None:
    audit_record(
        actor=actor,
        partner_id=current_tenant().pk,
        action=action,
        target=("campaign", campaign.pk),
        before=before,
        after=campaign_state_of(campaign),
    )


def campaign_create(
    *,
    name: str,
    kind: str,
    params: dict[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    tiers: list[str] | None = None,
    segments: list[str] | None = None,
    budget_points: int | None = None,
    actor: Any = None,
    request_key: str | None = None,
) -> Campaign:
    """A new campaign. With ``request_key`` (a form's or API call's idempotency
    key) a repeat of the same request returns the campaign the first one made."""
    if request_key is not None:
        request_key = request_key[:80]
        earlier = Campaign.objects.filter(request_key=request_key).first()
        if earlier is not None:
            return earlier
    name = (name or "").strip()
    if not name:
        raise engine.InvalidRule("a campaign needs a name", field="name")
    if len(name) > 120:
        raise engine.InvalidRule("a campaign name has 120 characters or fewer", field="name")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise engine.InvalidRule("a campaign's start and end need a time zone", field="starts_at")
    candidate = engine.Campaign(
        0, kind, params, starts_at, ends_at, frozenset(tiers or []), frozenset(segments or []), name
    )
    engine.validate_campaign(candidate)
    if budget_points is not None and budget_points < 0:
        raise engine.InvalidRule("budget must be zero or more", field="budget_points")
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                name=name,
                kind=kind,
                params=params,
                starts_at=starts_at,
                ends_at=ends_at,
                tiers=list(tiers or []),
                segments=list(segments or []),
                budget_points=budget_points,
                request_key=request_key,
            )
            if budget_points is not None:
                budget_buckets_create(campaign_id=campaign.pk)
            _audit_campaign(actor, "campaigns.create", campaign, None)
    except IntegrityError:
        # The same request twice at once: the other one made it.
        earlier = Campaign.objects.filter(request_key=request_key).first() if request_key else None
        if earlier is None:
            raise
        return earlier
    return campaign


def _campaign_locked(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise UnknownCampaign(f"there is no campaign {campaign_id}")
    return campaign


def _refuse_if_ended(campaign: Campaign, now: datetime, doing: str) -> None:
    if campaign.status == CampaignStatus.ENDED:
        raise CampaignEnded(f"campaign {campaign.name!r} has ended and cannot {doing}")
    if campaign.ends_at <= now:
        raise CampaignEnded(f"campaign {campaign.name!r} is over (its end has passed)")


def _campaign_switch(
    campaign_id: int, to_status: str, doing: str, actor: Any, now: datetime | None
) -> Campaign:
    """Pause or resume (``doing``) a campaign that has not ended, audited as
    ``campaigns.<doing>``; one already so changes nothing (a second press of the
    button)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _campaign_locked(campaign_id)
        _refuse_if_ended(campaign, now, doing)
        if campaign.status == to_status:
            return campaign
        before = campaign_state_of(campaign)
        campaign.status = to_status
        campaign.save(update_fields=["status"])
        _audit_campaign(actor, f"campaigns.{doing}", campaign, before)
    return campaign


def campaign_pause(*, campaign_id: int, actor: Any = None, now: datetime | None = None) -> Campaign:
    """Stop a campaign earning until it resumes. Pausing a paused one changes
    nothing."""
    return _campaign_switch(campaign_id, CampaignStatus.PAUSED, "pause", actor, now)


def campaign_resume(
    *, campaign_id: int, actor: Any = None, now: datetime | None = None
) -> Campaign:
    """Let a paused campaign earn again (within its time window). An ended one
    cannot resume (``CampaignEnded``)."""
    return _campaign_switch(campaign_id, CampaignStatus.ACTIVE, "resume", actor, now)


def campaign_end(*, campaign_id: int, actor: Any = None, now: datetime | None = None) -> Campaign:
    """End a campaign for good: it earns nothing more and cannot resume. Ending
    an ended one changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _campaign_locked(campaign_id)
        if campaign.status == CampaignStatus.ENDED:
            return campaign
        before = campaign_state_of(campaign)
        campaign.status = CampaignStatus.ENDED
        campaign.ended_at = now
        campaign.save(update_fields=["status", "ended_at"])
        _audit_campaign(actor, "campaigns.end", campaign, before)
    return campaign


def segment_add_member(*, segment_name: str, member_id: int) -> SegmentMember:
    segment, _ = Segment.objects.get_or_create(name=segment_name)
    membership, _ = SegmentMember.objects.get_or_create(segment=segment, member_id=member_id)
    return membership


# --- behavioural earning ---------------------------------------------------------------


def _partner_id() -> int:
    return int(current_tenant().pk)


def _partner_zone() -> ZoneInfo:
    return ZoneInfo(getattr(current_tenant(), "time_zone", "UTC") or "UTC")


@dataclass(frozen=True)
class AwardResult:
    award_id: int
    points: int
    ledger_transaction_id: int


def behaviour_award(
    *,
    member_id: int,
    event: str,
    reference: str = "",
    now: datetime | None = None,
) -> AwardResult:
    """Award a behavioural event's points, at most as often as the rule allows.

    The award slot (member, event, period, n) is unique in the database, so a
    retry or a race can never award twice; a repeat beyond the limit is
    ``AwardLimitReached``.
    """
    now = now or timezone.now()
    if event not in BehaviourEvent.values:
        raise BehaviourNotConfigured(f"unknown behavioural event {event!r}")
    rule = BehaviourRule.objects.filter(event=event, is_active=True).first()
    if rule is None:
        raise BehaviourNotConfigured(f"this partner awards nothing for {event}")
    member = member_get_active(member_id)
    if reference:
        # The same review (or request) earns once, however often it is sent.
        earlier = BehaviourAward.objects.filter(
            member_id=member_id, event=event, reference=reference[:120]
        ).first()
        if earlier is not None:
            return AwardResult(earlier.pk, earlier.points, earlier.ledger_transaction_id)
    local_today = now.astimezone(_partner_zone()).date()
    if event == BehaviourEvent.BIRTHDAY:
        born = member.birth_date
        if born is None or (born.month, born.day) != (local_today.month, local_today.day):
            raise NotBirthday("points for a birthday are awarded on the member's birthday")
    period_key = "lifetime" if rule.period == "lifetime" else str(local_today.year)
    points = rule.points
    partner_id = _partner_id()
    with transaction.atomic():
        used = BehaviourAward.objects.filter(
            member_id=member_id, event=event, period_key=period_key
        ).count()
        if used >= rule.max_awards:
            raise AwardLimitReached(
                f"{event} was already awarded {used} time(s) ({rule.max_awards} allowed per "
                f"{rule.period})"
            )
        sequence = used + 1
        try:
            with transaction.atomic():
                posting = ledger.earn(
                    member_id=member_id,
                    expires_at=lot_expiry_for(member_id, timezone.now()),
                    partner_id=partner_id,
                    points=points,
                    idempotency=IdempotencyKey(
                        f"partner:{partner_id}:behaviour",
                        f"{event}:{member_id}:{period_key}:{sequence}",
                    ),
                    memo=event,
                    external_ref=reference[:120],
                )
                award = BehaviourAward.objects.create(
                    member_id=member_id,
                    event=event,
                    points=points,
                    period_key=period_key,
                    sequence=sequence,
                    reference=reference[:120],
                    ledger_transaction_id=posting.transaction_id,
                )
        except IntegrityError:
            raise AwardLimitReached(f"{event} was just awarded to this member") from None
    tier_upgrade_after_earn(member_id=member_id)  # whatever earned, upgrades follow
    return AwardResult(award.pk, points, posting.transaction_id)


def normalised_email_identity(email: str) -> str:
    """The mailbox behind an address: lowercase, without +tags, and without dots
    for providers that ignore them (gmail)."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


@dataclass(frozen=True)
class ReferralResult:
    referral_id: int
    accepted: bool
    reason: str
    referrer_points: int = 0
    referee_points: int = 0


def _referral_chain_reaches(start_member: int, target: int, limit: int = 50) -> bool:
    """Whether following 'was referred by' upwards from ``start_member`` meets ``target``."""
    seen, current = set(), start_member
    for _ in range(limit):
        referrer = (
            Referral.objects.filter(referee_id=current, status=ReferralStatus.ACCEPTED)
            .values_list("referrer_id", flat=True)
            .first()
        )
        if referrer is None or referrer in seen:
            return False
        if referrer == target:
            return True
        seen.add(referrer)
        current = referrer
    return False


def _accepted_referrals(referrer_id: int, period: str, now: datetime) -> int:
    """Accepted referrals of a referrer within the rule's period (lifetime or the
    current calendar year in the partner's time zone)."""
    accepted = Referral.objects.filter(referrer_id=referrer_id, status=ReferralStatus.ACCEPTED)
    if period == "year":
        year = now.astimezone(_partner_zone()).year
        start = datetime(year, 1, 1, tzinfo=_partner_zone())
        accepted = accepted.filter(created_at__gte=start)
    return accepted.count()


def referral_record(
    *, referrer_id: int, referee_id: int, now: datetime | None = None
) -> ReferralResult:
    """Record a referral; award both sides if it passes the fraud checks.

    Refused referrals are recorded too, with the reason: ``self_referral`` (same
    member, or the same mailbox behind two addresses), ``already_referred``,
    ``referral_ring`` (the referee is up the referrer's own referral chain) and
    ``referrer_cap_reached``.
    """
    now = now or timezone.now()
    rule = BehaviourRule.objects.filter(event=BehaviourEvent.REFERRAL, is_active=True).first()
    if rule is None:
        raise BehaviourNotConfigured("this partner awards nothing for referrals")
    referrer = member_get_active(referrer_id)
    referee = member_get_active(referee_id)
    with transaction.atomic():
        # One referral decision at a time per partner: ring and cap checks read
        # other referrals, so they must not race each other.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 1)")
        reason = ""
        if referrer.pk == referee.pk or normalised_email_identity(
            referrer.email
        ) == normalised_email_identity(referee.email):
            reason = "self_referral"
        elif Referral.objects.filter(referee=referee, status=ReferralStatus.ACCEPTED).exists():
            reason = "already_referred"
        elif _referral_chain_reaches(referrer.pk, referee.pk):
            reason = "referral_ring"
        elif _accepted_referrals(referrer.pk, rule.period, now) >= rule.max_awards:
            reason = "referrer_cap_reached"
        if reason:
            referral = Referral.objects.create(
                referrer=referrer, referee=referee, status=ReferralStatus.REFUSED, reason=reason
            )
            return ReferralResult(referral.pk, False, reason)
        referral = Referral.objects.create(
            referrer=referrer, referee=referee, status=ReferralStatus.ACCEPTED
        )
        partner_id = _partner_id()
        ledger.earn(
            member_id=referrer.pk,
            expires_at=lot_expiry_for(referrer.pk, timezone.now()),
            partner_id=partner_id,
            points=rule.points,
            idempotency=IdempotencyKey(f"partner:{partner_id}:referral", f"{referral.pk}:referrer"),
            memo="referral",
        )
        if rule.referee_points:
            ledger.earn(
                member_id=referee.pk,
                expires_at=lot_expiry_for(referee.pk, timezone.now()),
                partner_id=partner_id,
                points=rule.referee_points,
                idempotency=IdempotencyKey(
                    f"partner:{partner_id}:referral", f"{referral.pk}:referee"
                ),
                memo="referred",
            )
    tier_upgrade_after_earn(member_id=referrer.pk)
    if rule.referee_points:
        tier_upgrade_after_earn(member_id=referee.pk)
    return ReferralResult(referral.pk, True, "", rule.points, rule.referee_points)
