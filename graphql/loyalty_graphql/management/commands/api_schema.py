"""`loyalty api-schema [--write]`: check or update the committed schema files."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from loyalty_graphql import snapshot


class Command(BaseCommand):
    help = "Check the committed GraphQL schema files against the code (--write updates them)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--write", action="store_true", help="rewrite the schema files")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["write"]:
            changed = snapshot.write()
            self.stdout.write(f"Updated: {', '.join(changed) or 'nothing changed'}")
            return
        stale = snapshot.stale_files()
        if stale:
            self.stderr.write(f"Out of date: {', '.join(stale)}. Run `loyalty api-schema --write`.")
            raise SystemExit(1)
        self.stdout.write("GraphQL schema files are current.")
