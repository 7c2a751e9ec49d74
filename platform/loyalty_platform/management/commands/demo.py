"""`loyalty demo`: migrate, seed the demo coalition and serve it on localhost."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from loyalty_platform.demo_seed import (
    DEMO_OPERATOR,
    DEMO_PASSWORD,
    DEMO_STAFF_ROLES,
    demo_member_logins,
    demo_staff_email,
    seed_demo_coalition,
)
from loyalty_platform.management.commands.serve import (
    add_server_arguments,
    check_bind,
    serve_forever,
)


class Command(BaseCommand):
    help = "Run the whole platform on this machine with a seeded demo coalition."

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_server_arguments(parser)
        parser.add_argument("--no-serve", action="store_true", help="migrate and seed only")

    def handle(self, *args: Any, **options: Any) -> None:
        check_bind(options["bind"])  # before migrating and seeding: fail at once
        call_command("migrate_platform", verbosity=0)
        partners = seed_demo_coalition()
        port = options["bind"].rsplit(":", 1)[-1]
        base = settings.LOYALTY_BASE_DOMAIN
        self.stdout.write(self.style.SUCCESS("Demo coalition ready."))
        self.stdout.write(f"  coalition site + member portal: http://{base}:{port}/")
        self.stdout.write(f"  coalition GraphQL:              http://{base}:{port}/graphql")
        self.stdout.write(
            f"  operator console:               http://{base}:{port}/operator/  "
            f"log in as {DEMO_OPERATOR} (an operator admin: the first log-in sets up "
            "two-step sign-in with an authenticator app)"
        )
        self.stdout.write(
            f"  operator admin (low-level data): http://{base}:{port}/admin/  "
            f"log in as {DEMO_OPERATOR}"
        )
        for partner in partners:
            domain = partner.get_primary_domain()
            self.stdout.write(
                f"  {partner.name:<24} console: http://{domain.domain}:{port}/  "
                f"API: http://{domain.domain}:{port}/graphql"
            )
            staff = ", ".join(demo_staff_email(role, partner.slug) for role in DEMO_STAFF_ROLES)
            self.stdout.write(f"  {'':<24} staff log-ins: {staff}")
        self.stdout.write(f"  Password of every demo log-in (operator and staff): {DEMO_PASSWORD}")
        members = ", ".join(f"{number} ({email})" for number, email in demo_member_logins())
        self.stdout.write(f"  Members (number, e-mail): {members}")
        first = demo_member_logins()[:1]
        if first:
            where = (
                "printed in this terminal"
                if settings.EMAIL_BACKEND.endswith("console.EmailBackend")
                else f"sent through {settings.EMAIL_BACKEND}"
            )
            self.stdout.write(
                f"  Member portal: http://{base}:{port}/portal/sign-in/  enter {first[0][1]}; "
                f"the e-mail with the sign-in code and link is {where}"
            )
        self.stdout.write(
            "  API keys for partner apps: loyalty create-api-key till --partner freshmart "
            "(operator: --operator)"
        )
        if options["no_serve"]:
            return
        serve_forever(bind=options["bind"], workers=options["workers"], threads=options["threads"])
