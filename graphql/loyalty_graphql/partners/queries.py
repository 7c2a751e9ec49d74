"""The public list of active partners (public host); the host's partner and its
stores (partner host)."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import principal_of
from loyalty_graphql.partners.types import PartnerInfo, PartnerType, StoreType
from loyalty_kernel.tenancy import current_tenant
from tenants.partners.selectors import partners_active
from tenants.stores.models import Store


class PartnerListQueries(graphene.ObjectType):
    partners = graphene.List(graphene.NonNull(PartnerInfo), required=True)

    @staticmethod
    def resolve_partners(root: Any, info: Any) -> Any:
        return partners_active()


class PartnerHostQueries(graphene.ObjectType):
    partner = graphene.Field(
        PartnerType,
        required=True,
        description="The partner of this host (public: the store locator's heading).",
    )
    stores = graphene.List(
        graphene.NonNull(StoreType),
        required=True,
        description=(
            "This partner's stores: the public store locator. Without credentials, the "
            "active stores only; with this partner's API key, every store."
        ),
    )

    @staticmethod
    def resolve_partner(root: Any, info: Any) -> Any:
        return current_tenant()

    @staticmethod
    def resolve_stores(root: Any, info: Any) -> Any:
        if principal_of(info).kind == "partner":
            return Store.objects.all()
        return Store.objects.filter(is_active=True)
