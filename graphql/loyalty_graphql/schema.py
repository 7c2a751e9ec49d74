"""The two GraphQL schemas of the platform, assembled from the domain packages.

``coalition_schema`` is served on the public host (members, the operator, the
public partner list); ``partner_schema`` on each partner's host, for partner apps.
Each domain package (``members``, ``purchases``, ``earning``, ``rewards``,
``settlement``, ``webhooks``, ``charity``, ``transfers``, ``partners``) holds its
types, queries and mutations; this module only mounts them. The root fields keep
the order of the committed schema files, so a new field goes last.
"""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.adjustments.mutations import AdjustPoints
from loyalty_graphql.charity.mutations import DonatePoints
from loyalty_graphql.charity.queries import CharityQueries
from loyalty_graphql.earning.mutations import AwardBehaviour, RecordReferral
from loyalty_graphql.members.email_choices import EmailChoiceQueries, UpdateMyEmailChoices
from loyalty_graphql.members.mutations import EnrolMember, IssueMemberToken
from loyalty_graphql.members.queries import CoalitionMemberQueries, PartnerMemberQueries
from loyalty_graphql.members.sign_in import CompleteMemberSignIn, StartMemberSignIn
from loyalty_graphql.partners.queries import PartnerHostQueries, PartnerListQueries
from loyalty_graphql.programme.campaigns import (
    CampaignQueries,
    CreateCampaign,
    EndCampaign,
    PauseCampaign,
    ResumeCampaign,
)
from loyalty_graphql.programme.mutations import (
    AddEarnRule,
    CloseStore,
    CreateRuleDraft,
    CreateStore,
    PublishRuleVersion,
    RemoveEarnRule,
    ReopenStore,
    SetPointValue,
    UpdateStore,
)
from loyalty_graphql.programme.queries import ProgrammeQueries
from loyalty_graphql.programme.rewards import (
    CreateReward,
    RestoreReward,
    RetireReward,
    UpdateReward,
)
from loyalty_graphql.purchases.mutations import RecordPurchase, ReturnPurchase
from loyalty_graphql.purchases.queries import PurchaseQueries
from loyalty_graphql.rewards.mutations import (
    AuthorizePointsPayment,
    CancelMyVoucher,
    CancelVoucher,
    CapturePointsPayment,
    ConsumeVoucher,
    RedeemCatalogueReward,
    RedeemReward,
    VoidPointsPayment,
)
from loyalty_graphql.rewards.queries import (
    CatalogueQueries,
    MemberVoucherQueries,
    PartnerRewardQueries,
)
from loyalty_graphql.settlement.mutations import ClosePeriod, PayOutPeriod
from loyalty_graphql.settlement.queries import CoalitionSettlementQueries, PartnerSettlementQueries
from loyalty_graphql.transfers.mutations import (
    AcceptHouseholdInvite,
    CreateHousehold,
    InviteToHousehold,
    LeaveHousehold,
    PoolToHousehold,
    TransferPoints,
)
from loyalty_graphql.transfers.queries import TransferQueries
from loyalty_graphql.webhooks.mutations import CreateWebhookEndpoint, DisableWebhookEndpoint
from loyalty_graphql.webhooks.queries import WebhookQueries


def root_type(name: str, *parts: type[graphene.ObjectType]) -> Any:
    """An object type with the fields (and resolvers) of ``parts``, in that order.
    Graphene collects fields from the last base class first, hence the reversal."""
    return type(name, tuple(reversed(parts)), {})


CoalitionQuery = root_type(
    "CoalitionQuery",
    PartnerListQueries,
    CoalitionMemberQueries,
    CatalogueQueries,
    MemberVoucherQueries,
    CoalitionSettlementQueries,
    CharityQueries,
    TransferQueries,
    EmailChoiceQueries,
)

PartnerQuery = root_type(
    "PartnerQuery",
    PartnerMemberQueries,
    PurchaseQueries,
    PartnerRewardQueries,
    PartnerSettlementQueries,
    WebhookQueries,
    PartnerHostQueries,
    ProgrammeQueries,
    CampaignQueries,
)


class CoalitionMutation(graphene.ObjectType):
    pay_out_period = PayOutPeriod.Field()
    transfer_points = TransferPoints.Field()
    pool_to_household = PoolToHousehold.Field()
    create_household = CreateHousehold.Field()
    invite_to_household = InviteToHousehold.Field()
    accept_household_invite = AcceptHouseholdInvite.Field()
    leave_household = LeaveHousehold.Field()
    donate_points = DonatePoints.Field()
    close_period = ClosePeriod.Field()
    redeem_catalogue_reward = RedeemCatalogueReward.Field()
    start_member_sign_in = StartMemberSignIn.Field()
    complete_member_sign_in = CompleteMemberSignIn.Field()
    cancel_my_voucher = CancelMyVoucher.Field()
    update_my_email_choices = UpdateMyEmailChoices.Field()


class PartnerMutation(graphene.ObjectType):
    award_behaviour = AwardBehaviour.Field()
    record_referral = RecordReferral.Field()
    cancel_voucher = CancelVoucher.Field()
    issue_member_token = IssueMemberToken.Field()
    enrol_member = EnrolMember.Field()
    record_purchase = RecordPurchase.Field()
    return_purchase = ReturnPurchase.Field()
    redeem_reward = RedeemReward.Field()
    consume_voucher = ConsumeVoucher.Field()
    authorize_points_payment = AuthorizePointsPayment.Field()
    capture_points_payment = CapturePointsPayment.Field()
    void_points_payment = VoidPointsPayment.Field()
    create_webhook_endpoint = CreateWebhookEndpoint.Field()
    disable_webhook_endpoint = DisableWebhookEndpoint.Field()
    create_store = CreateStore.Field()
    update_store = UpdateStore.Field()
    close_store = CloseStore.Field()
    reopen_store = ReopenStore.Field()
    create_rule_draft = CreateRuleDraft.Field()
    add_earn_rule = AddEarnRule.Field()
    remove_earn_rule = RemoveEarnRule.Field()
    publish_rule_version = PublishRuleVersion.Field()
    set_point_value = SetPointValue.Field()
    adjust_points = AdjustPoints.Field()
    create_reward = CreateReward.Field()
    update_reward = UpdateReward.Field()
    retire_reward = RetireReward.Field()
    restore_reward = RestoreReward.Field()
    create_campaign = CreateCampaign.Field()
    pause_campaign = PauseCampaign.Field()
    resume_campaign = ResumeCampaign.Field()
    end_campaign = EndCampaign.Field()


coalition_schema = graphene.Schema(query=CoalitionQuery, mutation=CoalitionMutation)
partner_schema = graphene.Schema(query=PartnerQuery, mutation=PartnerMutation)
