"""Three adjustments to how feedparser runs; the results are the same, only faster.

1. The SAX driver. feedparser asks xml.sax for a parser from the module names in
   feedparser.api.PREFERRED_XML_PARSERS; this module is such a driver (create_parser).
   It is Python's expat reader with text buffered: unbuffered, expat reports character
   data in many small pieces (every line, every entity reference) and feedparser
   handles each with several Python calls.
2. The base-URI join. On every start tag feedparser joins the current xml:base with
   itself through urllib (make_safe_absolute_uri), about a fifth of its time on a
   typical feed, although the answer is almost always the one it computed for the
   previous tag. The function is pure (two strings in, a string out), so a small cache
   returns the same answers.

3. Copies of content parameters. For every content element feedparser deep-copies a
   small dict of strings (type, language, base) with copy.deepcopy, a tenth of its
   time; a plain copy of a dict whose values are all immutable is the same thing.

install() applies all three; parse.py calls it once at import.
"""

from __future__ import annotations

import copy
import functools
import types
from typing import Any
from xml.sax.expatreader import ExpatParser

import feedparser.api
import feedparser.mixin
from feedparser.util import FeedParserDict

BUFFER_SIZE = 1 << 16  # characters of text gathered before they are handed on
JOIN_CACHE = 1024  # distinct (base, relative) pairs remembered


class BufferedExpatParser(ExpatParser):
    def reset(self) -> None:
        super().reset()
        parser = self._parser  # type: ignore[attr-defined]  # set by reset(), not declared
        parser.buffer_text = True
        parser.buffer_size = BUFFER_SIZE


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    return BufferedExpatParser(*args, **kwargs)


_IMMUTABLE = (str, int, float, bool, type(None))


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if type(value) is FeedParserDict and all(isinstance(v, _IMMUTABLE) for v in value.values()):
        return FeedParserDict(value)
    return copy.deepcopy(value, memo)


_ORIGINAL = (feedparser.mixin.make_safe_absolute_uri, feedparser.mixin.copy)


def uninstall() -> None:
    """feedparser as it came: for tests that compare the two."""
    if __name__ in feedparser.api.PREFERRED_XML_PARSERS:
        feedparser.api.PREFERRED_XML_PARSERS.remove(__name__)
    feedparser.mixin.make_safe_absolute_uri, feedparser.mixin.copy = _ORIGINAL


def install() -> None:
    preferred = feedparser.api.PREFERRED_XML_PARSERS
    if __name__ not in preferred:
        preferred.insert(0, __name__)
    join = feedparser.mixin.make_safe_absolute_uri
    if not hasattr(join, "cache_info"):
        feedparser.mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=JOIN_CACHE)(join)
    if not isinstance(feedparser.mixin.copy, types.SimpleNamespace):
        # The name feedparser.mixin imports the copy module under; only deepcopy is used.
        feedparser.mixin.copy = types.SimpleNamespace(deepcopy=_deepcopy)
