"""French and English: every string of the pages is in the catalogs, and French has them all."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from server.i18n import choose_language, gettext_for, messages

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "web" / "locale"
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")


def catalog_ids(path: Path) -> set[str]:
    with path.open("rb") as source:
        return {str(m.id) for m in read_po(source) if m.id}


def test_the_catalog_template_lists_exactly_the_strings_of_the_pages(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "web/babel.cfg",
            "-k",
            "t",
            "-k",
            "_",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert catalog_ids(fresh) == catalog_ids(LOCALE / "messages.pot"), "run `make messages`"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_language_has_a_catalog_for_every_message(language: str) -> None:
    assert catalog_ids(LOCALE / language / "LC_MESSAGES" / "messages.po") == catalog_ids(
        LOCALE / "messages.pot"
    )


def test_french_translates_every_message_with_the_same_placeholders() -> None:
    with (LOCALE / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source)
    for message in catalog:
        if not message.id:
            continue
        assert message.string and not message.fuzzy, f"untranslated: {message.id!r}"
        assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
            PLACEHOLDER.findall(str(message.string))
        ), f"placeholders differ: {message.id!r}"


def test_templates_and_scripts_share_the_catalog() -> None:
    french = messages("fr")
    assert french["Raise my hand"] == "Lever la main"
    assert gettext_for("fr")("Welcome, %(name)s", name="Ana") == "Bienvenue, Ana"
    assert gettext_for("en")("Welcome, %(name)s", name="Ana") == "Welcome, Ana"


def test_the_language_is_the_choice_then_the_cookie_then_the_browser() -> None:
    assert choose_language("fr", "en", "en-GB") == "fr"
    assert choose_language(None, "fr", "en-GB") == "fr"
    assert choose_language(None, None, "fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert choose_language(None, None, "de-DE") == "en"
    assert choose_language("xx", None, "") == "en"


def test_french_names_jurors_without_grammatical_gender() -> None:
    """ "Juré" labels a woman as a man: the pages say "membre du jury" instead."""
    with (LOCALE / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        translations = [str(m.string) for m in read_po(source) if m.id]
    gendered = [text for text in translations if re.search(r"\bjur[ée]e?s?\b", text, re.I)]
    assert gendered == []
