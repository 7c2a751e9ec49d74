"""Reading the programme's earn rule versions (scope ``configure``)."""

from __future__ import annotations

from typing import Any

import graphene

from loyalty_graphql.base import PARTNER, require
from loyalty_graphql.programme.types import RuleVersionView, rule_version_view
from loyalty_kernel import clock
from tenants.earning import selectors as earning_selectors

VERSIONS_PAGE = 20


class ProgrammeQueries(graphene.ObjectType):
    rule_versions = graphene.List(
        graphene.NonNull(RuleVersionView),
        required=True,
        description=f"The newest {VERSIONS_PAGE} earn rule versions, drafts included.",
    )
    rule_version = graphene.Field(RuleVersionView, number=graphene.Int(required=True))

    @staticmethod
    def resolve_rule_versions(root: Any, info: Any) -> Any:
        require(info, PARTNER, "configure")
        now = clock.now()
        in_force = earning_selectors.version_in_force(now)
        return [
            rule_version_view(summary.version, now=now, in_force=in_force)
            for summary in earning_selectors.rule_versions(now=now, limit=VERSIONS_PAGE)
        ]

    @staticmethod
    def resolve_rule_version(root: Any, info: Any, number: int) -> Any:
        require(info, PARTNER, "configure")
        version = earning_selectors.rule_version(number)
        if version is None:
            return None
        now = clock.now()
        return rule_version_view(version, now=now, in_force=earning_selectors.version_in_force(now))
