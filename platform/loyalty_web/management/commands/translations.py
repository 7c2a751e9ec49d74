"""`loyalty translations`: refresh the Spanish catalogue of the web pages.

Collects every translatable string of ``loyalty_web`` (without source locations,
so two branches adding strings rarely conflict), fills in the translations given
in ``--fill FILE.json`` (an object of English to Spanish), compiles the catalogue
and lists what is still untranslated. After a merge conflict in ``django.po``,
take either side, run this again with your JSON, and commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management import BaseCommand, CommandError, call_command

WEB = Path(__file__).resolve().parents[2]
PO = WEB / "locale" / "es" / "LC_MESSAGES" / "django.po"


class Command(BaseCommand):
    help = "Collect, fill (from --fill FILE.json) and compile the Spanish catalogue of the pages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--fill", action="append", default=[], metavar="FILE.json")

    def handle(self, *args: Any, **options: Any) -> None:
        # A contributor's tool: polib comes with the test extras, not the platform.
        import polib  # type: ignore[import-untyped]

        translations: dict[str, str] = {}
        for name in options["fill"]:
            try:
                translations.update(json.loads(Path(name).read_text(encoding="utf-8")))
            except (OSError, ValueError) as error:
                raise CommandError(f"--fill {name}: {error}") from error
        # Keep the header's creation date: makemessages stamps the time of every run,
        # which would make two branches' catalogues conflict on that line alone.
        created = polib.pofile(str(PO)).metadata.get("POT-Creation-Date") if PO.exists() else None
        # makemessages collects from the working directory: the web app's own tree.
        here = Path.cwd()
        os.chdir(WEB)
        try:
            call_command(
                "makemessages",
                locale=["es"],
                no_location=True,
                no_obsolete=True,
                verbosity=0,
                ignore_patterns=["static/*"],
            )
        finally:
            os.chdir(here)
        catalogue = polib.pofile(str(PO), wrapwidth=0)
        if created:
            catalogue.metadata["POT-Creation-Date"] = created
        for entry in catalogue:
            if entry.msgid in translations and (not entry.translated() or entry.fuzzy):
                entry.msgstr = translations[entry.msgid]
                if entry.fuzzy:
                    entry.flags.remove("fuzzy")
        catalogue.save(str(PO))
        catalogue.save_as_mofile(str(PO.with_suffix(".mo")))
        missing = [entry.msgid for entry in catalogue.untranslated_entries()]
        missing += [entry.msgid for entry in catalogue.fuzzy_entries()]
        for msgid in missing:
            self.stdout.write(f"untranslated: {msgid!r}")
        self.stdout.write(f"{len(catalogue.translated_entries())} translated, {len(missing)} left")
