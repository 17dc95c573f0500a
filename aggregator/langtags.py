"""Language tags as feeds and users write them ("en-US", "EN_gb", "eng", "fil"), read as
the primary language code the screener compares with its detector's ("en", "fil")."""

from __future__ import annotations

import re

import langcodes

_SEPARATOR = re.compile(r"[-_]")
# ISO 639-2's codes for no particular language: undetermined, several, none, not coded.
_NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis"})


def primary_language(value: object) -> str | None:
    """The language a tag names: its primary subtag in lower case, a three-letter ISO
    639-2/3 code as its two-letter ISO 639-1 one where there is one ("eng" is "en",
    "deu" and "ger" are "de"; "fil" stays "fil"); None for none ("", null) or for what
    is no language tag ("english", "e", "12")."""
    if not isinstance(value, str):
        return None
    primary = _SEPARATOR.split(value.strip(), maxsplit=1)[0].lower()
    if not (primary.isascii() and primary.isalpha()) or len(primary) not in (2, 3) or primary in _NO_LANGUAGE:
        return None
    if len(primary) == 3:
        try:
            primary = langcodes.standardize_tag(primary).split("-")[0]
        except ValueError:  # langcodes' LanguageTagError is a ValueError
            return None
    return primary
