"""Migrates and seeds a fresh platform database for the fault-injection test, in a
process of its own (run as a script with DATABASE_URL pointing at the test's own
PostgreSQL; one process for both saves a Django start-up): one active partner
with a published base rate, tier levels (so every purchase also runs the
post-commit tier check), a webhook endpoint (so every purchase enqueues a delivery
on the broker), an API key allowed to earn, and members.

Prints one JSON line: the partner's host and schema, the key and member numbers.
Not a test module (pytest collects ``test_*.py`` only); not imported by the suite.
"""

from __future__ import annotations

import json
import sys


def seed(slug: str, members: int) -> dict[str, object]:
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from coalition.members.services import member_enrol
    from coalition.tiers.models import TierLevel
    from coalition.webhooks.services import webhook_endpoint_create
    from loyalty_graphql.auth import api_key_create
    from tenants.earning import services as earning
    from tenants.partners.services import partner_onboard

    now = timezone.now()
    partner = partner_onboard(name="Fault Mart", slug=slug, default_currency="EUR", activate=True)
    with tenant_context(partner):
        version = earning.ruleset_draft_create(description="fault injection")
        earning.rule_add(version=version, kind="base_rate", params={"rates": {"EUR": "1"}})
        earning.ruleset_publish(version=version, effective_from=now, now=now)
    for rank, (code, threshold) in enumerate((("blue", 0), ("silver", 2000), ("gold", 5000))):
        TierLevel.objects.create(code=code, name=code.title(), rank=rank,
                                 threshold_points=threshold)  # fmt: skip
    # Nothing listens there and no Celery worker runs: the deliveries only wait on
    # the broker, which is what a purchase needs from it.
    webhook_endpoint_create(partner=partner, url="http://127.0.0.1:9/hook",
                            events=["points_earned"])  # fmt: skip
    _, key = api_key_create(name="fault injection", scopes=["earn"], partner=partner)
    numbers = [
        member_enrol(email=f"fault-{index}@example.com").member_number for index in range(members)
    ]
    return {
        "host": partner.domains.get().domain,
        "schema": partner.schema_name,
        "key": key,
        "members": numbers,
    }


if __name__ == "__main__":
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_platform", verbosity=0)
    print(json.dumps(seed(sys.argv[1], int(sys.argv[2]))))
