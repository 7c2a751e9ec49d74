"""Partners as the public list shows them, and a partner host's partner and stores.

A partner's host is also a public store locator: without credentials, anyone
may read the partner's name, slug and time zone and its active stores (name,
code, channel, city, time zone), under the anonymous cost budget. Nothing else
on a partner's host answers without this partner's API key.
"""

from __future__ import annotations

from typing import Any

import graphene
from graphene_django import DjangoObjectType

from loyalty_graphql.base import principal_of
from tenants.partners.models import Partner
from tenants.stores.models import Store


def _with_partner_key(info: Any) -> None:
    """Fields beyond the public store locator need this partner's API key (the
    view has checked the key belongs to this host)."""
    if principal_of(info).kind != "partner":
        raise PermissionError("this partner's API key is needed for this field")


class PartnerInfo(graphene.ObjectType):
    slug = graphene.String(required=True)
    name = graphene.String(required=True)
    default_currency = graphene.String(required=True)
    status = graphene.String(required=True)


class PartnerType(DjangoObjectType):
    class Meta:
        model = Partner
        name = "Partner"
        description = (
            "The partner of this host. Its name, slug and time zone are public (a store "
            "locator needs no credentials); its status and currency need its API key."
        )
        fields = ("name", "slug", "status", "default_currency", "time_zone")
        convert_choices_to_enum = False

    status = graphene.String(required=True, description="Needs this partner's API key.")
    default_currency = graphene.String(required=True, description="Needs this partner's API key.")

    @staticmethod
    def resolve_status(partner: Partner, info: Any) -> str:
        _with_partner_key(info)
        return str(partner.status)

    @staticmethod
    def resolve_default_currency(partner: Partner, info: Any) -> str:
        _with_partner_key(info)
        return str(partner.default_currency)


class StoreType(DjangoObjectType):
    class Meta:
        model = Store
        name = "Store"
        description = (
            "A store of this partner, as a public store locator shows it: readable without "
            "credentials."
        )
        fields = ("code", "name", "channel", "time_zone", "city", "is_active")
        convert_choices_to_enum = False
