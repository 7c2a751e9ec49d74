"""English and Spanish ship together: every string is translated, the compiled
catalogue matches its source, and numbers and money follow the language."""

from __future__ import annotations

import gettext
from pathlib import Path

import polib
import pytest
from django.utils import translation

from loyalty_web.design.formatting import format_money, format_points
from tenants.partners.models import Partner
from tests.testkit import host_client

LOCALE = Path(__file__).resolve().parents[2] / "platform" / "loyalty_web" / "locale"
PO = LOCALE / "es" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "es" / "LC_MESSAGES" / "django.mo"


def test_every_string_has_a_spanish_translation() -> None:
    catalogue = polib.pofile(str(PO))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert (untranslated, fuzzy) == ([], []), "run makemessages -l es, translate, compilemessages"


def test_the_compiled_catalogue_matches_its_source() -> None:
    with MO.open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for entry in polib.pofile(str(PO)).translated_entries():
        assert catalogue.gettext(entry.msgid) == entry.msgstr, "run compilemessages"


@pytest.mark.django_db
def test_the_console_speaks_the_browsers_language(partner_a: Partner) -> None:
    client = host_client(f"{partner_a.slug}.localhost")
    spanish = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es")
    english = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Iniciar sesión" in spanish.content.decode()
    assert 'lang="es"' in spanish.content.decode()
    assert "Sign in" in english.content.decode()


def test_money_and_points_follow_the_language() -> None:
    with translation.override("en"):
        assert (format_money(123456, "EUR"), format_points(1234567)) == (
            "1,234.56 EUR",
            "1,234,567",
        )
    with translation.override("es"):
        # Spanish groups thousands with a non-breaking space (the RAE's style).
        assert (format_money(123456, "EUR"), format_points(1234567)) == (
            "1\u00a0234,56 EUR",
            "1\u00a0234\u00a0567",
        )
    with translation.override("en"):
        assert format_money(1234, "JPY") == "1,234 JPY"
        assert format_money(1234, "KWD") == "1.234 KWD"
