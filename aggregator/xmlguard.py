"""Bounds on what a feed's markup can make feedparser do: entities, depth, entries.

A feed within fetch.max_bytes must parse in bounded memory and time whatever its markup.
Four guards, each where feedparser would otherwise spend without limit:

1. Entities. No declared entity is ever expanded, by either of feedparser's parsers:
   - before parsing, check_entities() refuses the declarations that only attacks use
     (entities built from other entities, external and parameter entities, floods of
     declarations), with a message that names the entity;
   - feedparser strips the DOCTYPE and puts back the declarations it deems safe, for
     expat and for its lenient fallback parser; install() makes it put back none, so a
     declared entity is read as the literal text "&name;" (HTML's named entities, such as
     &nbsp;, still read as their characters);
   - the SAX driver (feedparsing.BufferedExpatParser) is defusedxml's DefusedExpatParser:
     an entity declaration or external reference that still reaches expat stops the
     parse (EntitiesForbidden, ExternalReferenceForbidden), and parse.py refuses the feed.
   expat never fetches an external DTD: feedparser turns external general entities off
   and the DOCTYPE is removed before expat reads the document.
2. Size of the markup. feedparser keeps a frame per open element it tracks; a feed's own
   structure is a handful deep (rss, channel, item, field), so elements nested MAX_DEPTH
   deep are an attack. So are more than MAX_ELEMENTS elements, more than MAX_ATTRIBUTES
   attributes on one element, or MAX_TAG_BYTES bytes without a ">". Such a feed is refused (Unbounded).
3. Entries. A feed is read up to MAX_ENTRIES entries; the rest of the document is not
   parsed (EnoughEntries ends the parse, and the entries read so far are kept). Each entry
   costs feedparser about 100 µs and screening as much again: a 10 MB document of 200,000
   empty items would otherwise take minutes and hundreds of MB.
   A document that is not well-formed is read by feedparser's lenient parser, which is
   slow: it reads the first MAX_LENIENT_CHARS characters.
4. Attributes. xml.sax looks attributes up by qualified name with a linear search, and
   feedparser does so for each attribute: an element with 40,000 attributes took 25 s.
   The driver gives feedparser attributes with a dictionary lookup (feedparsing.py).

HTML inside entries has a guard of its own (sanitize.MAX_HTML_DEPTH).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import feedparser.api
import feedparser.mixin
import feedparser.namespaces._base
import feedparser.sanitizer

from .errors import ParseError

MAX_DEPTH = 128
MAX_ENTRIES = 2000
# feedparser spends about 8 µs on an element: a 10 MB document of empty elements would
# take 20 s. 2,000 entries of 50 elements each is 100,000.
MAX_ELEMENTS = 250_000
MAX_ATTRIBUTES = 256  # on one element; feeds use a handful
# Bytes with no ">" among them: expat holds a start tag whole before it reports it, so a
# tag of a million attributes would cost hundreds of MB before MAX_ATTRIBUTES could say no.
# A text node longer than this in one piece is refused too (sanitize.MAX_HTML_CHARS keeps
# only a quarter of it).
MAX_TAG_BYTES = 2_000_000
MAX_ENTITY_DECLARATIONS = 64
# feedparser's lenient parser, for documents that are not well-formed XML, reads about
# 1 MB a second: it reads this much of such a document, and the rest is left unread.
MAX_LENIENT_CHARS = 1_000_000

_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s>]+)\s*((?:\"[^\"]*\"|'[^']*'|[^>\"'])*)>", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_CHARREF_ONLY = re.compile(rb"&#[0-9]+;|&#x[0-9a-fA-F]+;")
_NEVER = re.compile(rb"(?!)")


class Unbounded(Exception):  # a signal raised through feedparser; parse.py words it
    """Raised inside feedparser when the markup passes a bound: the feed is refused."""


class EnoughEntries(Exception):
    """Raised inside feedparser at the start of entry MAX_ENTRIES + 1: the parse ends there."""


def _utf8_head(body: bytes, size: int = 262144) -> bytes:
    """The start of a UTF-16 or UTF-32 document (by its byte-order mark, else by where
    its first character's zero bytes fall), as UTF-8."""
    head = body[:size]
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        encoding = "utf-32"
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif head[:2] == b"\x00\x00":
        encoding = "utf-32-be"
    elif head[:1] == b"\x00":
        encoding = "utf-16-be"
    elif head[2:4] == b"\x00\x00":
        encoding = "utf-32-le"
    else:
        encoding = "utf-16-le"
    return head.decode(encoding, errors="replace").encode("utf-8")


def check_entities(url: str, body: bytes) -> bool:
    """Refuse documents whose DTD declares what only entity attacks need.

    Returns whether the document declares entities at all (they are then read unexpanded).
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        # UTF-16 (or UTF-32): its declarations read as ASCII only once decoded.
        body = _utf8_head(body)
    match = _FIRST_ELEMENT.search(body)
    head = body[: match.start()] if match else body[:65536]
    if b"<!ENTITY" not in head.upper():
        return False
    declarations = _ENTITY_DECL.findall(head)
    if len(declarations) > MAX_ENTITY_DECLARATIONS:
        raise ParseError(
            url, f"refused: the document declares {len(declarations)} entities (entity-expansion attack?)"
        )
    for percent, name, rest in declarations:
        shown = name.decode(errors="replace")[:40]
        if percent or b"SYSTEM" in rest.upper() or b"PUBLIC" in rest.upper():
            raise ParseError(
                url,
                f"refused: entity '{shown}' is external or a parameter entity "
                "(external entities and DTDs are never fetched)",
            )
        if b"&" in _CHARREF_ONLY.sub(b"", rest) or b"%" in rest:
            raise ParseError(
                url,
                f"refused: entity '{shown}' is built from other entities "
                "(entity-expansion attack, 'billion laughs')",
            )
    return True


def _guarded_push(self: Any, element: str, expecting_text: int) -> None:
    if len(self.elementstack) >= MAX_DEPTH:
        raise Unbounded(f"elements nested more than {MAX_DEPTH} deep (a feed needs a handful)")
    _PUSH(self, element, expecting_text)


def _guarded_start_item(self: Any, attrs_d: dict[str, Any]) -> None:
    if len(self.entries) >= MAX_ENTRIES:
        raise EnoughEntries
    _START_ITEM(self, attrs_d)


def _guarded_charref(self: Any, ref: str) -> None:
    # The lenient parser hands feedparser every "&#...;" as it is; feedparser's chr() and
    # UTF-8 encoding raise for a surrogate or a number past U+10FFFF, failing the whole
    # feed over one reference. Such a reference stands for no character: U+FFFD instead.
    hexadecimal = ref[:1] in ("x", "X")
    try:
        code = int(ref[1:], 16) if hexadecimal else int(ref)
    except ValueError:  # also a number of more than 4,300 digits
        code = -1
    if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        ref = "xfffd"
    _CHARREF(self, ref)


def _loose_feed(self: Any, data: str) -> None:
    # The lenient parser: entries read before EnoughEntries are kept, the rest is unread.
    with contextlib.suppress(EnoughEntries):
        _LOOSE_FEED(self, data[:MAX_LENIENT_CHARS])


_PUSH = feedparser.mixin._FeedParserMixin.push
_CHARREF = feedparser.mixin._FeedParserMixin.handle_charref
_START_ITEM = feedparser.namespaces._base.Namespace._start_item
_LOOSER = feedparser.api.LooseFeedParser
_LOOSE_FEED = _LOOSER.feed
_SAFE_ENTITY = feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN
_ENTITY_DECLARATION = feedparser.sanitizer.RE_ENTITY_PATTERN
_DOCTYPE_DECLARATION = feedparser.sanitizer.RE_DOCTYPE_PATTERN
# feedparser finds the DOCTYPE and entity declarations it strips only at the start of a
# line: one written after "<?xml ...?>" on the same line stayed, and expat (defused)
# then refused a harmless feed. Anywhere before the root element, here.
_ANY_ENTITY_DECLARATION = re.compile(rb"<!ENTITY([^>]*?)>")
_ANY_DOCTYPE_DECLARATION = re.compile(rb"<!DOCTYPE([^>]*?)>")


def install() -> None:
    # replace_doctype() reads its pattern of "safe" entities at call time: one that never
    # matches puts no declaration back, for expat or for the lenient parser.
    feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN = _NEVER
    feedparser.sanitizer.RE_ENTITY_PATTERN = _ANY_ENTITY_DECLARATION
    feedparser.sanitizer.RE_DOCTYPE_PATTERN = _ANY_DOCTYPE_DECLARATION
    feedparser.mixin._FeedParserMixin.push = _guarded_push
    feedparser.mixin._FeedParserMixin.handle_charref = _guarded_charref
    namespace = feedparser.namespaces._base.Namespace
    namespace._start_item = namespace._start_entry = _guarded_start_item
    _LOOSER.feed = _loose_feed


def uninstall() -> None:
    feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN = _SAFE_ENTITY
    feedparser.sanitizer.RE_ENTITY_PATTERN = _ENTITY_DECLARATION
    feedparser.sanitizer.RE_DOCTYPE_PATTERN = _DOCTYPE_DECLARATION
    feedparser.mixin._FeedParserMixin.push = _PUSH
    feedparser.mixin._FeedParserMixin.handle_charref = _CHARREF
    namespace = feedparser.namespaces._base.Namespace
    namespace._start_item = namespace._start_entry = _START_ITEM
    _LOOSER.feed = _LOOSE_FEED
