"""Partners as the public list shows them, and a partner host's partner and stores."""

from __future__ import annotations

import graphene
from graphene_django import DjangoObjectType

from tenants.partners.models import Partner
from tenants.stores.models import Store


class PartnerInfo(graphene.ObjectType):
    slug = graphene.String(required=True)
    name = graphene.String(required=True)
    default_currency = graphene.String(required=True)
    status = graphene.String(required=True)


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
