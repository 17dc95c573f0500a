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
# Text whose letters and digits are all Latin-1 (English naming Zürich, São Paulo or a
# café) is read by patterns that spell those out, which match faster than the Unicode
# classes; they read a character beyond Latin-1 that is no letter or digit (a dash, curly
# quotes) as the Unicode patterns do, as a separator, and the typographic apostrophe
# inside a word as they do.
_BEYOND_LATIN1 = re.compile(r"[^\x00-\xff]")


def _latin1(pattern: str) -> str:
    """The Latin-1 characters a Unicode pattern matches, as a character class."""
    return "[" + "".join(re.escape(c) for c in map(chr, range(256)) if re.fullmatch(pattern, c)) + "]"


_LETTER = _latin1(r"[^\W\d_]")
_LATIN1_LETTERS = rf"{_LETTER}+(?:['’]{_LETTER}+)?"
_WORD_LATIN1 = re.compile(
    rf"(?>{_LATIN1_LETTERS})(?!-)|(?<![\w-]){_LATIN1_LETTERS}(?:-{_LATIN1_LETTERS})+(?![\w-])|{_LATIN1_LETTERS}"
)
_W = _latin1(r"\w")
_TOKEN_LATIN1 = re.compile(rf"{_W}[{_W[1:-1]}.\-/]*{_W}|{_W}")

# (tokens, words) patterns by the characters a text holds.
_ASCII_PATTERNS = (_TOKEN_ASCII, _WORD_ASCII)
_LATIN1_PATTERNS = (_TOKEN_LATIN1, _WORD_LATIN1)
_UNICODE_PATTERNS = (TOKEN, WORD)


def _readable(text: str) -> tuple[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    """(text as the patterns read it, the patterns that may read it): typeset hyphens
    plain, and every character outside ASCII a space when all of those only separate
    words (English text is often ASCII but for its dashes and quotes), so that patterns
    with narrower classes find the same words, faster."""
    if text.isascii():
        return text, _ASCII_PATTERNS
    text = _plain(text)
    if _WORDLIKE_BEYOND_ASCII.search(text) is None:
        return _BEYOND_ASCII.sub(" ", text), _ASCII_PATTERNS
    if not any(map(str.isalnum, _BEYOND_LATIN1.findall(text))):
        return text, _LATIN1_PATTERNS
    return text, _UNICODE_PATTERNS


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; dots, dashes and slashes inside a word stay (802.1x, is-is)."""
    text, (token, _) = _readable(text)
    return token.findall(text.lower())


def tokens_with_case(text: str) -> tuple[list[str], list[str]]:
    """(tokens(text), the ordinary words for language checks, lower-cased)."""
    text, (token, word) = _readable(text)
    ordinary = [w.lower() for w in word.findall(text) if len(w) > 1 and not w.isupper()]
    return token.findall(text.lower()), ordinary


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
