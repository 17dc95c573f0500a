"""Tokens: the words the screening and topic models read, and a bounded memo for them."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TypeVar

# An ordinary word: letters, with one apostrophe inside ("don't"), or words of letters
# joined by hyphens ("site-to-site", "Peering-Router": one word, whose "to" is no English
# prose), unless digits join them too ("nb-k8s-sync": nb, k, s, sync, as before). The
# language checks read these. (A word with no hyphen after it is the first, quick branch.)
_LETTERS = r"[^\W\d_]+(?:['’][^\W\d_]+)?"
WORD = re.compile(rf"(?>{_LETTERS})(?!-)|(?<![\w-]){_LETTERS}(?:-{_LETTERS})+(?![\w-])|{_LETTERS}")
TOKEN = re.compile(r"(?u)[\w][\w.\-/]*\w|\w")
# The same patterns for ASCII text, where they match the same and run faster.
_TOKEN_ASCII = re.compile(r"[\w][\w.\-/]*\w|\w", re.ASCII)
_ASCII_LETTERS = r"[A-Za-z]+(?:'[A-Za-z]+)?"
_WORD_ASCII = re.compile(
    rf"(?>{_ASCII_LETTERS})(?!-)|(?<![\w-]){_ASCII_LETTERS}(?:-{_ASCII_LETTERS})+(?![\w-])|{_ASCII_LETTERS}",
    re.ASCII,
)


# Typeset text writes "IS-IS" with a non-breaking hyphen and splits long words with soft
# hyphens or zero-width spaces: read as the plain hyphen, and as nothing.
_HYPHENS = str.maketrans(
    {
        **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212"), "-"),
        **dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff")),
    }
)


_TYPESET = re.compile("[\u2010\u2011\u2012\u2013\u2212\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def _plain(text: str) -> str:
    """text with typeset hyphens and invisible breaks read as plain ones (most text has
    none: a search in C tells, before a translation character by character)."""
    return text.translate(_HYPHENS) if _TYPESET.search(text) else text


# A character outside ASCII that the patterns read as part of a word: a letter or digit
# of another alphabet, or the typographic apostrophe ("don’t"). Any other (a dash, curly
# quotes, an ellipsis, a no-break space, a symbol) separates words as a space does.
_WORDLIKE_BEYOND_ASCII = re.compile(r"[^\W\x00-\x7f]|’")
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f]+")


def _readable(text: str) -> tuple[str, bool]:
    """(text as the patterns read it, whether the ASCII patterns may): typeset hyphens
    plain, and every character outside ASCII a space when all of those only separate
    words (English text is often ASCII but for its dashes and quotes), so that the ASCII
    patterns find the same words, faster."""
    if text.isascii():
        return text, True
    text = _plain(text)
    if _WORDLIKE_BEYOND_ASCII.search(text) is not None:
        return text, False
    return _BEYOND_ASCII.sub(" ", text), True


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; dots, dashes and slashes inside a word stay (802.1x, is-is)."""
    text, ascii_only = _readable(text)
    return (_TOKEN_ASCII if ascii_only else TOKEN).findall(text.lower())


def tokens_with_case(text: str) -> tuple[list[str], list[str]]:
    """(tokens(text), the ordinary words for language checks, lower-cased)."""
    text, ascii_only = _readable(text)
    words = (_WORD_ASCII if ascii_only else WORD).findall(text)
    ordinary = [w.lower() for w in words if len(w) > 1 and not w.isupper()]
    return (_TOKEN_ASCII if ascii_only else TOKEN).findall(text.lower()), ordinary


def grams(words: list[str]) -> list[str]:
    """Words and word pairs: the model's features before hashing."""
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


_V = TypeVar("_V")


class Remembered(dict[str, _V]):
    """compute(key), remembered for up to `limit` keys: words repeat across posts, and a
    lookup costs a fraction of the work. Bounded, so a flood of unique tokens cannot
    grow it. Look up with [] (or map(remembered.__getitem__, keys), all in C)."""

    def __init__(self, compute: Callable[[str], _V], limit: int = 10_000) -> None:
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, key: str) -> _V:
        value = self.compute(key)
        if len(self) < self.limit:
            self[key] = value
        return value
