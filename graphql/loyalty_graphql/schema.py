"""The two GraphQL schemas of the platform.

``coalition_schema`` is served on the public host (members, the operator, the
public partner list); ``partner_schema`` on each partner's host, for partner apps.
"""

from __future__ import annotations

from typing import Any

import graphene
from graphene_django import DjangoObjectType

from loyalty_graphql.coalition_api import CoalitionMutations, CoalitionOperations
from loyalty_graphql.partner_api import PartnerMutations, PartnerOperations
from loyalty_graphql.webhook_api import WebhookMutations, WebhookOperations
from loyalty_kernel.tenancy import current_tenant
from tenants.partners.models import Partner
from tenants.stores.models import Store


class PartnerType(DjangoObjectType):
    class Meta:
        model = Partner
        name = "Partner"
        fields = ("name", "slug", "status", "default_currency", "time_zone")
        convert_choices_to_enum = False


class StoreType(DjangoObjectType):
    class Meta:
        model = Store
        name = "Store"
        fields = ("code", "name", "channel", "time_zone", "city", "is_active")
        convert_choices_to_enum = False


class CoalitionQuery(CoalitionOperations):
    pass


class PartnerQuery(WebhookOperations, PartnerOperations):
    partner = graphene.Field(PartnerType, required=True, description="The partner of this host.")
    stores = graphene.List(graphene.NonNull(StoreType), required=True)

    @staticmethod
    def resolve_partner(root: Any, info: Any) -> Any:
        return current_tenant()

    @staticmethod
    def resolve_stores(root: Any, info: Any) -> Any:
        return Store.objects.all()


class CoalitionMutation(CoalitionMutations):
    pass


class PartnerMutation(WebhookMutations, PartnerMutations):
    pass


coalition_schema = graphene.Schema(query=CoalitionQuery, mutation=CoalitionMutation)
partner_schema = graphene.Schema(query=PartnerQuery, mutation=PartnerMutation)
