"""French and English from one set of Babel message catalogs, for templates and scripts alike.

The catalogs are the `.po` files under `web/locale`; the pages get the same messages as JSON,
so a string is translated once whether the server or the browser renders it.
"""

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[1] / "web" / "locale"
LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


@cache
def messages(language: str) -> dict[str, str]:
    """msgid -> translation; an untranslated or fuzzy message falls back to its msgid."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id
        and message.string
        and not message.fuzzy
        and isinstance(message.id, str)
        and isinstance(message.string, str)
    }


# The pages' convention: a message is the double-quoted first argument of `t(...)` or `N_(...)`.
# Babel's own JavaScript lexer loses such calls inside nested template literals.
JS_MESSAGE = re.compile(r'\b(t|N_)\(\s*("(?:[^"\\\n]|\\.)*")')


def extract_js(
    fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method for the pages' scripts (see web/babel.cfg)."""
    source = fileobj.read().decode("utf-8")
    for match in JS_MESSAGE.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        yield line, match.group(1), json.loads(match.group(2)), []


def gettext_for(language: str):  # type: ignore[no-untyped-def]
    table = messages(language)

    def gettext(message: str, **variables: object) -> str:
        text = table.get(message, message)
        return text % variables if variables else text

    return gettext


def choose_language(requested: str | None, cookie: str | None, accept_language: str) -> str:
    """An explicit choice, then the remembered one, then the browser's preference."""
    for candidate in (requested, cookie):
        if candidate in LANGUAGES:
            return str(candidate)
    preferred = [
        part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",")
    ]
    try:
        best = Locale.negotiate([p for p in preferred if p], list(LANGUAGES), sep="_")
    except (UnknownLocaleError, ValueError):
        best = None
    return best.language if best is not None else DEFAULT_LANGUAGE
