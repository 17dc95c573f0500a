"""Eight adjustments to how feedparser runs; the results are the same, only faster.

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
4. Reading content parameters. feedparser keeps them in a FeedParserDict, whose every
   get() is a Python method that looks the key up in an alias table; none of the keys
   it keeps there (type, language, base, mode, base64, value) has an alias, so while
   parsing they live in a subclass with plain dict lookups, and the copies that end up
   in the result are FeedParserDicts as before.
5. Links that are already absolute. feedparser joins every link and guid with the base
   URI through urllib, which for an absolute http(s) URL of ordinary characters (no
   empty query, no ';' parameters, no fragment, no dot segments to keep) gives back
   the URL as it was: such URLs skip the join.
6. Element names. xml.sax splits expat's "namespace name prefix" string for every start
   and end tag; the same few names come back for every entry, so the split is cached,
   and elements without attributes skip the attribute conversion.

7. The windows-1252 table. feedparser maps C1 control characters to the windows-1252
   characters they were meant to be with str.translate on every text it keeps; with its
   table of 27 entries, every other character is a failed lookup, an exception caught
   in C, each time. The same table with the characters that map to themselves (ASCII,
   Latin-1, Latin Extended, typographic punctuation) gives the same text 2 to 3 times
   faster.

8. FeedParserDict lookups. Every read of a key goes through five comparisons for the
   keys feedparser treats specially (category, enclosures, license, updated...) and its
   alias table before the plain dict lookup, a quarter of a million times for a
   thousand-post run; a key that is neither special nor an alias (almost all of them)
   goes to the dict lookup at once.

install() applies all eight; parse.py calls it once at import (the driver of 1 and 6 is
chosen through PREFERRED_XML_PARSERS).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import re
import types
import urllib.parse
from collections.abc import Mapping
from typing import Any
from xml.sax.expatreader import AttributesNSImpl

import feedparser.api
import feedparser.mixin
import feedparser.urls
from defusedxml.expatreader import DefusedExpatParser
from feedparser.util import FeedParserDict

from .xmlguard import MAX_ATTRIBUTES, MAX_ELEMENTS, MAX_TAG_BYTES, EnoughEntries, Unbounded

# Characters windows-1252 repair leaves as they are, listed so that looking them up
# succeeds: ASCII, Latin-1 and Latin Extended (past the C1 controls), general punctuation.
IDENTITIES = tuple(itertools.chain(range(0x80), range(0xA0, 0x250), range(0x2000, 0x2070), (0x20AC,)))
BUFFER_SIZE = 1 << 16  # characters of text gathered before they are handed on
JOIN_CACHE = 1024  # distinct (base, relative) pairs remembered
NAME_CACHE = 512  # distinct element names remembered


class Attributes(AttributesNSImpl):
    """xml.sax's attributes, with lookups by qualified name in a dictionary, not a scan:
    feedparser looks every attribute up by its qualified name, which made an element with
    n attributes cost n² steps."""

    def __init__(self, attrs: dict[tuple[str | None, str], str], qnames: dict[tuple[str | None, str], str]):
        super().__init__(attrs, qnames)
        self._by_qname = {qname: pair for pair, qname in qnames.items()}

    def getValueByQName(self, name: str) -> str:  # xml.sax's name
        return self._attrs[self._by_qname[name]]  # type: ignore[attr-defined,no-any-return]

    def getNameByQName(self, name: str) -> tuple[str | None, str]:
        return self._by_qname[name]


def _attribute(name: str) -> tuple[tuple[str | None, str], str]:
    # expat's "namespace localname [prefix]" as xml.sax.expatreader reads an attribute's.
    parts = name.split()
    if len(parts) == 1:
        return (None, name), name
    if len(parts) == 3:
        return (parts[0], parts[1]), f"{parts[2]}:{parts[1]}"
    return (parts[0], parts[1]), parts[1]


class BufferedExpatParser(DefusedExpatParser):  # type: ignore[misc]  # defusedxml is untyped
    """expat with text buffered, defusedxml's guards (an entity declaration or an external
    reference stops the parse), dictionary attribute lookups, and a parse that ends
    quietly after xmlguard.MAX_ENTRIES entries."""

    _elements = 0  # start tags so far
    _open_bytes = 0  # bytes since the last ">"

    def parse(self, source: Any) -> None:
        with contextlib.suppress(EnoughEntries):  # the entries read so far are the result
            super().parse(source)

    def feed(self, data: bytes, isFinal: bool = False) -> None:  # xml.sax's name
        # expat holds a start tag whole before it reports it: one of millions of attributes
        # would cost hundreds of MB first. Bytes without a ">" are counted across chunks.
        close = data.rfind(b">")
        self._open_bytes = len(data) - close - 1 if close >= 0 else self._open_bytes + len(data)
        if self._open_bytes > MAX_TAG_BYTES:
            raise Unbounded(f"more than {MAX_TAG_BYTES:,} bytes without a '>' (a start tag that large?)")
        super().feed(data, isFinal)

    def reset(self) -> None:
        super().reset()
        self._elements = 0
        self._open_bytes = 0
        parser = self._parser  # set by reset()
        parser.buffer_text = True
        parser.buffer_size = BUFFER_SIZE

    # Most feed elements have no attributes: for them the (namespace, name) pair is all
    # there is to convert, and the same few names come back for every entry.
    def start_element_ns(self, name: str, attrs: Mapping[str, str]) -> None:
        handler = self._cont_handler  # set by setContentHandler()
        self._elements += 1
        if self._elements > MAX_ELEMENTS:
            raise Unbounded(f"the document has more than {MAX_ELEMENTS:,} elements")
        if not attrs:
            handler.startElementNS(_name_pair(name), None, AttributesNSImpl({}, {}))
            return
        if len(attrs) > MAX_ATTRIBUTES:
            raise Unbounded(f"an element has {len(attrs):,} attributes (a feed's have a handful)")
        values: dict[tuple[str | None, str], str] = {}
        qnames: dict[tuple[str | None, str], str] = {}
        for key, value in attrs.items():
            pair, qname = _attribute(key)
            values[pair] = value
            qnames[pair] = qname
        handler.startElementNS(_name_pair(name), None, Attributes(values, qnames))

    def end_element_ns(self, name: str) -> None:
        handler = self._cont_handler
        handler.endElementNS(_name_pair(name), None)


@functools.lru_cache(maxsize=NAME_CACHE)
def _name_pair(name: str) -> tuple[str | None, str]:
    # expat's "namespace localname [prefix]" as xml.sax.expatreader splits it.
    parts = name.split()
    if len(parts) == 1:
        return None, name
    return parts[0], parts[1]


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    return BufferedExpatParser(*args, **kwargs)


_IMMUTABLE = (str, int, float, bool, type(None))


class ContentParams(FeedParserDict):  # type: ignore[misc]
    """Content parameters while parsing: FeedParserDict, with dict's own lookups."""

    __getitem__ = dict.__getitem__
    __setitem__ = dict.__setitem__
    __contains__ = dict.__contains__
    get = dict.get


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    kind = type(value)
    if (kind is FeedParserDict or kind is ContentParams) and all(
        isinstance(v, _IMMUTABLE) for v in value.values()
    ):
        return FeedParserDict(value)
    return copy.deepcopy(value, memo)


def _push_content(
    self: Any, tag: str, attrs_d: dict[str, Any], default_content_type: str, expecting_text: int
) -> None:
    # feedparser.mixin._FeedParserMixin.push_content, with ContentParams.
    self.incontent += 1
    if self.lang:
        self.lang = self.lang.replace("_", "-")
    self.contentparams = ContentParams(
        {
            "type": self.map_content_type(attrs_d.get("type", default_content_type)),
            "language": self.lang,
            "base": self.baseuri,
        }
    )
    self.contentparams["base64"] = self._is_base64(attrs_d, self.contentparams)
    self.push(tag, expecting_text)


# An absolute http(s) URL that urllib.parse.urljoin returns unchanged whatever the base:
# a host, an optional port, a path and a non-empty query of ordinary characters.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?"
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,=:@/%]*)?(?:\?[A-Za-z0-9\-._~!$&'()*+,=:@/%?]+)?"
)


@functools.lru_cache(maxsize=JOIN_CACHE)
def _parses(base: str) -> bool:
    try:
        urllib.parse.urlparse(base)
    except ValueError:  # urljoin() would fail too, and feedparser give an empty URL
        return False
    return True


def _fast_urljoin(base: str, uri: str) -> str:
    if _PLAIN_URL.fullmatch(uri) and _parses(base):
        return uri
    return _JOIN(base, uri)  # type: ignore[no-any-return]


_JOIN = feedparser.urls._urljoin
_getitem, _contains, _get = FeedParserDict.__getitem__, FeedParserDict.__contains__, FeedParserDict.get
_ORIGINAL = (
    feedparser.mixin.make_safe_absolute_uri,
    feedparser.mixin.copy,
    feedparser.mixin._FeedParserMixin.push_content,
    feedparser.mixin._urljoin,
    feedparser.mixin._cp1252,
    _getitem,
    _contains,
    _get,
)
# The keys FeedParserDict answers in a way of its own; every other key is a dict key.
_SPECIAL_KEYS = frozenset(FeedParserDict.keymap) | {
    "category",
    "enclosures",
    "license",
    "updated",
    "updated_parsed",
}


def _fast_getitem(self: FeedParserDict, key: Any) -> Any:
    return _getitem(self, key) if key in _SPECIAL_KEYS else dict.__getitem__(self, key)


def _fast_contains(self: FeedParserDict, key: Any) -> bool:
    return bool(_contains(self, key)) if key in _SPECIAL_KEYS else dict.__contains__(self, key)


def _fast_get(self: FeedParserDict, key: Any, default: Any = None) -> Any:
    return _get(self, key, default) if key in _SPECIAL_KEYS else dict.get(self, key, default)


def uninstall() -> None:
    """feedparser as it came: for tests that compare the two."""
    if __name__ in feedparser.api.PREFERRED_XML_PARSERS:
        feedparser.api.PREFERRED_XML_PARSERS.remove(__name__)
    (
        feedparser.mixin.make_safe_absolute_uri,
        feedparser.mixin.copy,
        feedparser.mixin._FeedParserMixin.push_content,
        feedparser.mixin._urljoin,
        feedparser.mixin._cp1252,
        FeedParserDict.__getitem__,
        FeedParserDict.__contains__,
        FeedParserDict.get,
    ) = _ORIGINAL


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
    feedparser.mixin._FeedParserMixin.push_content = _push_content
    feedparser.mixin._urljoin = _fast_urljoin
    FeedParserDict.__getitem__ = _fast_getitem
    FeedParserDict.__contains__ = _fast_contains
    FeedParserDict.get = _fast_get
    table = feedparser.mixin._cp1252
    if len(table) < len(IDENTITIES):
        feedparser.mixin._cp1252 = {**{c: chr(c) for c in IDENTITIES}, **table}
