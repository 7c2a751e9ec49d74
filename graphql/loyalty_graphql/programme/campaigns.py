"""Campaigns for partner apps, as staff run them on the console's campaign pages:
the list with each campaign's state and budget used, create, pause, resume and
end, through the same earning services and selectors (scope ``configure``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import graphene

from loyalty_graphql.base import PARTNER, Call, LoyaltyMutation, require
from loyalty_graphql.limits import page_size
from loyalty_kernel import clock
from tenants.earning import selectors as earning_selectors
from tenants.earning import services as earning
from tenants.earning.errors import InvalidRule, UnknownCampaign
from tenants.earning.models import Campaign

CAMPAIGN_STATES = ("running", "scheduled", "paused", "ended")


def _actor(call: Call) -> str:
    return f"API key {call.principal.key_id}"


class CampaignView(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(
        required=True, description="multiplier, category_multiplier, bonus or first_purchase_bonus"
    )
    params = graphene.JSONString(required=True)
    state = graphene.String(required=True, description="running, scheduled, paused or ended")
    starts_at = graphene.DateTime(required=True)
    ends_at = graphene.DateTime(required=True)
    tiers = graphene.List(graphene.NonNull(graphene.String), required=True)
    segments = graphene.List(graphene.NonNull(graphene.String), required=True)
    budget_points = graphene.BigInt(description="null: no budget")
    issued_points = graphene.BigInt(
        required=True, description="Points issued against the budget (budgeted campaigns)."
    )


def campaign_view(summary: earning_selectors.CampaignSummary) -> dict[str, Any]:
    campaign = summary.campaign
    return {
        "id": str(campaign.pk),
        "name": campaign.name,
        "kind": campaign.kind,
        "params": campaign.params,
        "state": summary.state,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "tiers": list(campaign.tiers),
        "segments": list(campaign.segments),
        "budget_points": campaign.budget_points,
        "issued_points": summary.issued,
    }


def _summary_of(campaign: Campaign) -> dict[str, Any]:
    summary = earning_selectors.campaign_summaries(
        now=clock.now(), before_id=campaign.pk + 1, limit=1
    )[0]
    return {"campaign": campaign_view(summary)}


class CampaignQueries(graphene.ObjectType):
    campaigns = graphene.List(
        graphene.NonNull(CampaignView),
        required=True,
        state=graphene.String(description="running, scheduled, paused or ended; none: all"),
        first=graphene.Int(description="How many, newest first (default 20, at most 100)."),
        description="The partner's campaigns, newest first, with their budget used.",
    )

    @staticmethod
    def resolve_campaigns(
        root: Any, info: Any, state: str | None = None, first: int | None = None
    ) -> Any:
        require(info, PARTNER, "configure")
        if state and state not in CAMPAIGN_STATES:
            raise ValueError(f"state is one of {', '.join(CAMPAIGN_STATES)}")
        summaries = earning_selectors.campaign_summaries(
            now=clock.now(), state=state or "", limit=page_size(first)
        )
        return [campaign_view(summary) for summary in summaries]


def _campaign_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UnknownCampaign(f"there is no campaign {value!r}") from None


class CreateCampaign(LoyaltyMutation):
    """Create a campaign. ``params`` is the kind's JSON object: {"multiplier": "2"}
    for a multiplier, plus "category" for a category multiplier, {"points": 100}
    for a bonus. Targeting by tier codes and segment names (none: everyone); an
    optional budget in points. A broken rule is INVALID_RULE naming its field."""

    class Arguments:
        name = graphene.String(required=True)
        kind = graphene.String(required=True)
        params = graphene.JSONString(required=True)
        starts_at = graphene.DateTime(required=True)
        ends_at = graphene.DateTime(required=True)
        tiers = graphene.List(graphene.NonNull(graphene.String))
        segments = graphene.List(graphene.NonNull(graphene.String))
        budget_points = graphene.BigInt()

    campaign = graphene.Field(CampaignView)
    scope = "configure"

    @classmethod
    def fingerprinted(cls, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            **arguments,
            **{name: sorted(set(arguments[name])) for name in ("tiers", "segments")
               if arguments.get(name) is not None},
        }  # fmt: skip

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        params = args["params"]
        if not isinstance(params, dict):
            raise InvalidRule("params must be a JSON object", field="params")
        campaign = earning.campaign_create(
            name=args["name"],
            kind=args["kind"],
            params=params,
            starts_at=args["starts_at"],
            ends_at=args["ends_at"],
            tiers=sorted(set(args.get("tiers") or [])),
            segments=sorted(set(args.get("segments") or [])),
            budget_points=args.get("budget_points"),
            actor=_actor(call),
        )
        return _summary_of(campaign)


class _CampaignLifecycleStep(LoyaltyMutation):
    """One step of a campaign's life (pause, resume, end), taken now by the
    earning service ``step``: answers the campaign's summary."""

    class Meta:
        abstract = True

    class Arguments:
        campaign = graphene.ID(required=True)

    campaign = graphene.Field(CampaignView)
    scope = "configure"
    step: ClassVar[Callable[..., Campaign]]

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        campaign = cls.step(
            campaign_id=_campaign_id(args["campaign"]), actor=_actor(call), now=clock.now()
        )
        return _summary_of(campaign)


class PauseCampaign(_CampaignLifecycleStep):
    """Stop a campaign earning until it resumes (pausing a paused one changes nothing)."""

    step = staticmethod(earning.campaign_pause)


class ResumeCampaign(_CampaignLifecycleStep):
    """Let a paused campaign earn again; an ended one is CAMPAIGN_ENDED."""

    step = staticmethod(earning.campaign_resume)


class EndCampaign(_CampaignLifecycleStep):
    """End a campaign for good: it earns nothing more and cannot resume."""

    step = staticmethod(earning.campaign_end)
