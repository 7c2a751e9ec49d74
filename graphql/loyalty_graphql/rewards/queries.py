"""A partner's rewards and vouchers (partner host); the coalition catalogue of
every partner's rewards (public host, no credentials needed)."""

from __future__ import annotations

from typing import Any

import graphene

from coalition.catalogue.selectors import catalogue_page
from loyalty_graphql.base import MEMBER, PARTNER, member_id_of, require
from loyalty_graphql.core.types import decode_cursor, encode_cursor
from loyalty_graphql.limits import page_size
from loyalty_graphql.rewards.types import (
    CatalogueConnection,
    CatalogueItem,
    MemberVoucherView,
    RewardView,
    VoucherView,
    member_voucher_view,
    voucher_view,
)
from tenants.partners.models import Partner
from tenants.rewards import self_service
from tenants.rewards import services as rewards
from tenants.rewards.models import Reward


class PartnerRewardQueries(graphene.ObjectType):
    rewards = graphene.List(graphene.NonNull(RewardView), required=True)
    voucher = graphene.Field(VoucherView, code=graphene.String(required=True))

    @staticmethod
    def resolve_rewards(root: Any, info: Any) -> list[RewardView]:
        require(info, PARTNER, "read")
        return [
            RewardView(
                code=r.code,
                name=r.name,
                points_price=r.points_price,
                in_stock=r.stock is None or r.stock > 0,
            )
            for r in Reward.objects.filter(is_active=True).order_by("points_price", "code")[:100]
        ]

    @staticmethod
    def resolve_voucher(root: Any, info: Any, code: str) -> VoucherView:
        require(info, PARTNER, "redeem")
        return voucher_view(rewards.voucher_validate(code=code))


class CatalogueQueries(graphene.ObjectType):
    catalogue = graphene.Field(
        CatalogueConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        max_points=graphene.BigInt(),
        partner=graphene.String(),
        search=graphene.String(),
        category=graphene.String(description="Only rewards of this category, in any case."),
    )

    @staticmethod
    def resolve_catalogue(
        root: Any, info: Any, first: int | None = None, after: str | None = None,
        max_points: int | None = None, partner: str | None = None, search: str | None = None,
        category: str | None = None,
    ) -> CatalogueConnection:  # fmt: skip
        after_pair = None
        if after:
            value = decode_cursor(after) or 0
            after_pair = (value >> 32, value & 0xFFFFFFFF)
        partner_ids = (
            list(Partner.objects.filter(slug=partner).values_list("pk", flat=True))
            if partner
            else None
        )
        if partner_ids == []:  # an unknown slug matches nothing (the selector reads [] as "any")
            return CatalogueConnection(
                edges=[],
                page_info=graphene.relay.PageInfo(
                    has_next_page=False, has_previous_page=after is not None
                ),
            )
        page = catalogue_page(
            first=page_size(first),
            after=after_pair,
            max_points=max_points,
            partner_ids=partner_ids,
            search=search,
            category=category,
        )
        edges = [
            CatalogueConnection.Edge(
                node=CatalogueItem(
                    partner=e.partner.slug,
                    code=e.code,
                    name=e.name,
                    points_price=e.points_price,
                    category=e.category,
                ),
                cursor=encode_cursor((e.points_price << 32) | e.pk),
            )
            for e in page.entries
        ]
        return CatalogueConnection(
            edges=edges,
            page_info=graphene.relay.PageInfo(
                has_next_page=page.next_after is not None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


class MemberVoucherQueries(graphene.ObjectType):
    my_vouchers = graphene.List(
        graphene.NonNull(MemberVoucherView),
        required=True,
        first=graphene.Int(description="How many, newest first (20 by default)."),
        description="The member's vouchers at every partner, newest first (member token).",
    )

    @staticmethod
    def resolve_my_vouchers(root: Any, info: Any, first: int | None = None) -> list[Any]:
        principal = require(info, MEMBER)
        vouchers = self_service.member_vouchers(
            member_id=member_id_of(principal), limit=page_size(first)
        )
        return [member_voucher_view(voucher) for voucher in vouchers]
