"""The entries of plain RSS 2.0 and Atom 1.0 documents, read without feedparser's per-element
machinery, with the values feedparser gives for them.

feedparser spends about 16 µs on every element of an entry (a stack of handlers in
Python for each start tag, end tag and text), a fifth of a first run's CPU. Most feeds
are plain: UTF-8, no DTD, no xml:base, and entries made of a few text elements. For such
a document this module reads the entries with expat directly and gives, for each field
that parse.py reads, the value feedparser's handlers would have given (the same text
clean-up steps, the same defaults and the same precedence when fields repeat or stand in
for one another). The feed's own elements (title, link, language, version, bozo) still
come from feedparser, which reads the document with its entries taken out: that is small
and keeps every rule of the feed level as it was.

Anything else declines (read() returns None) and parse.py runs feedparser as before:
another encoding or a DTD, an element or attribute of an entry not listed here, an
element nested where a text is expected, markup that is not well-formed, a document over
xmlguard's limits, podcast chapters and iTunes fields other than those listed. Declining
is always safe. tests/test_parse.py compares both paths on the sample feeds and on the
forms listed there; bench/README.md says how they compared on the benchmarks' feeds.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from xml.parsers import expat

import feedparser
import feedparser.datetimes
import feedparser.mixin
import feedparser.urls

from .xmlguard import MAX_ATTRIBUTES, MAX_DEPTH, MAX_ELEMENTS, MAX_ENTRIES

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# expat's name for an element: "namespace|local", or "local" outside any namespace.
SEP = "|"
HTML_TYPES = frozenset(feedparser.mixin._FeedParserMixin.html_types)
# The XML declarations read here: UTF-8 or none (UTF-8 by default).
_DECLARATION = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']utf-?8[\"'][^>]*\?>", re.IGNORECASE)
_DECLARATION_OR_COMMENT = re.compile(rb"<!(?!\[CDATA\[)")
_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")
# The characters feedparser's windows-1252 table maps to others: the C1 controls.
_C1_CONTROL = re.compile("[\x80-\x9f]")


class Decline(Exception):
    """Not a document this module reads: feedparser reads it."""


def _fix_text(value: str) -> str:
    """The last steps of feedparser's pop() for any text: the UTF-8 read as Latin-1 repair,
    then the windows-1252 table (looked up at call time: feedparsing.py extends it).

    Both leave ASCII as it is, and the table changes only C1 control characters: text
    without them skips the per-character lookups (most of a post's content)."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    if _C1_CONTROL.search(value) is None:
        return value
    return value.translate(feedparser.mixin._cp1252)


def _content_type(value: str) -> str:
    return str(feedparser.mixin._FeedParserMixin.map_content_type(value))


# The children an entry may have, by expat name: (what feedparser calls it, the
# attributes allowed on it). Any other child, or attribute, declines the document.
RSS_FIELDS: dict[str, tuple[str, frozenset[str]]] = {
    "title": ("title", frozenset()),
    "link": ("link", frozenset()),
    "guid": ("guid", frozenset({"isPermaLink"})),
    "pubDate": ("published", frozenset()),
    f"{DC}{SEP}creator": ("creator", frozenset()),
    "category": ("category", frozenset({"domain"})),
    "description": ("description", frozenset()),
    f"{CONTENT}{SEP}encoded": ("encoded", frozenset()),
    "enclosure": ("enclosure", frozenset({"url", "length", "type"})),
    f"{ITUNES}{SEP}duration": ("itunes_duration", frozenset()),
    f"{ITUNES}{SEP}episode": ("itunes_episode", frozenset()),
    f"{ITUNES}{SEP}season": ("itunes_season", frozenset()),
    f"{ITUNES}{SEP}explicit": ("itunes_explicit", frozenset()),
    f"{ITUNES}{SEP}summary": ("itunes_summary", frozenset()),
    f"{ITUNES}{SEP}image": ("itunes_image", frozenset({"href"})),
}
ATOM_FIELDS: dict[str, tuple[str, frozenset[str]]] = {
    f"{ATOM}{SEP}title": ("title", frozenset({"type"})),
    f"{ATOM}{SEP}link": ("link", frozenset({"href", "rel", "type", "title", "length", "hreflang"})),
    f"{ATOM}{SEP}id": ("id", frozenset()),
    f"{ATOM}{SEP}published": ("published", frozenset()),
    f"{ATOM}{SEP}updated": ("updated", frozenset()),
    f"{ATOM}{SEP}author": ("author", frozenset()),
    f"{ATOM}{SEP}category": ("category", frozenset({"term", "scheme", "label"})),
    f"{ATOM}{SEP}summary": ("summary", frozenset({"type"})),
    f"{ATOM}{SEP}content": ("content", frozenset({"type"})),
}
ATOM_AUTHOR_NAME = f"{ATOM}{SEP}name"
XML_BASE = f"http://www.w3.org/XML/1998/namespace{SEP}base"
# Text types of Atom's title, summary and content read here (xhtml holds markup).
ATOM_TEXT_TYPES = frozenset({"text", "html", "text/plain", "text/html"})

Field = tuple[str, dict[str, str], str]  # feedparser's name, attributes, text


class _Reader:
    """One pass of expat over the document: each entry's fields, and where the entries lie."""

    def __init__(self, atom: bool) -> None:
        self.atom = atom
        self.fields = ATOM_FIELDS if atom else RSS_FIELDS
        self.entry_name = f"{ATOM}{SEP}entry" if atom else "item"
        self.container = f"{ATOM}{SEP}feed" if atom else "channel"
        self.entries: list[list[Field]] = []
        self.first = -1  # byte offset of the first entry's start tag
        self.last = -1  # byte offset of the last entry's end tag
        self.after_entries = False  # a feed element after an entry
        self.stack: list[str] = []
        self.text: list[str] = []
        self.field: tuple[str, dict[str, str]] | None = None
        self.author_name: str | None = None
        self.elements = 0
        self.parser = expat.ParserCreate("utf-8", SEP)
        self.parser.buffer_text = True
        self.parser.buffer_size = 1 << 16
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data
        self.parser.StartDoctypeDeclHandler = self.refuse
        self.parser.EntityDeclHandler = self.refuse
        self.parser.ProcessingInstructionHandler = self.refuse

    def refuse(self, *args: Any) -> None:
        raise Decline

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.elements += 1
        if (
            self.elements > MAX_ELEMENTS
            or len(attrs) > MAX_ATTRIBUTES
            or len(self.stack) >= MAX_DEPTH
            or XML_BASE in attrs
        ):
            # Over xmlguard's limits, feedparser's driver refuses the document with the
            # reason. The depth bound also keeps the ancestor checks below short: unbounded,
            # 200,000 nested elements cost them minutes. xml:base: feedparser's bookkeeping.
            raise Decline
        parent = self.stack[-1] if self.stack else None
        grandparent = self.stack[-2] if len(self.stack) >= 2 else None
        self.stack.append(name)
        if parent == self.container:
            if name != self.entry_name:
                if self.entries:
                    self.after_entries = True  # a feed element after an entry
                return
            if attrs or self.after_entries:
                raise Decline  # entries and feed elements interleaved
            if self.first < 0:
                self.first = self.parser.CurrentByteIndex
            self.entries.append([])
            if len(self.entries) >= MAX_ENTRIES:
                raise Decline
            return
        if parent == self.entry_name and grandparent == self.container:
            known = self.fields.get(name)
            if known is None or not set(attrs) <= known[1]:
                raise Decline
            self.field = (known[0], dict(attrs))
            self.text = []
            self.author_name = None
            return
        if self.field is not None:
            # Inside an entry's field: only an Atom author's name.
            if not (self.field[0] == "author" and name == ATOM_AUTHOR_NAME and not attrs):
                raise Decline
            if self.author_name is not None or "".join(self.text).strip():
                raise Decline
            self.text = []
            return
        if self.entry_name in self.stack[:-1]:
            raise Decline

    def end(self, name: str) -> None:
        self.stack.pop()
        if name == self.entry_name and self.stack and self.stack[-1] == self.container:
            self.last = self.parser.CurrentByteIndex
            return
        if self.field is None:
            return
        if name == ATOM_AUTHOR_NAME and self.field[0] == "author":
            self.author_name = "".join(self.text)
            self.text = []
            return
        kind, attrs = self.field
        text = "".join(self.text)
        if kind == "author":
            if text.strip() or self.author_name is None:
                raise Decline  # text beside the name, or no name: feedparser's rules differ
            text = self.author_name
        self.entries[-1].append((kind, attrs, text))
        self.field = None
        self.text = []

    def data(self, text: str) -> None:
        if self.field is not None:
            self.text.append(text)


# Media types feedparser reads as the XML declaration says, without a charset.
XML_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/xml"})


def _declared_utf8(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether feedparser would read the body as UTF-8 without a remark: an XML media type,
    UTF-8 in the Content-Type or nowhere, and in the XML declaration or none."""
    media, _, params = headers.get("content-type", "").lower().partition(";")
    charset = params.partition("charset=")[2].strip(" \"';")
    if charset not in ("", "utf-8") or (media.strip() not in XML_TYPES and charset != "utf-8"):
        return False
    if not body.startswith(b"<?xml"):
        return body[:1] == b"<"
    return _DECLARATION.match(body) is not None


def _root(body: bytes) -> bool | None:
    """True for an Atom document, False for RSS 2.0, None for anything else."""
    head = body[:2048]
    if b"<rss" in head and b'version="2.0"' in head and b"<rdf" not in head:
        return False
    if b"<feed" in head and ATOM.encode() in head and b"<rss" not in head:
        return True
    return None


def read(body: bytes, headers: Mapping[str, str], parse: Callable[[bytes], Any]) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 or Atom 1.0 document, as far as parse.py
    reads it, or None when the document is not one this module reads. headers: the
    response headers, lower-cased, with content-location (the feed's URL); parse:
    feedparser.parse as parse.py calls it, for the document without its entries."""
    atom = _root(body)
    if atom is None or not _declared_utf8(body, headers) or b"\r" in body:
        return None  # another encoding, or line ends feedparser reads its own way
    if _DECLARATION_OR_COMMENT.search(body):
        return None  # a DTD or a comment (expat reports invalid UTF-8 itself)
    reader = _Reader(atom)
    try:
        reader.parser.Parse(body, True)
    except (Decline, expat.ExpatError):
        return None
    finally:
        # The parser's handlers hold the reader: without this cycle broken, readers (and
        # expat's buffers) would wait for the garbage collector, megabytes of them.
        del reader.parser
    if not reader.entries:
        return None
    end = body.index(b">", reader.last) + 1
    result = parse(body[: reader.first] + body[end:])
    if (
        result.get("bozo")
        or result.get("entries")
        or result.get("version") != ("atom10" if atom else "rss20")
    ):
        return None
    base = _base(headers.get("content-location", ""))
    try:
        entries = [(_atom_entry if atom else _rss_entry)(fields, base) for fields in reader.entries]
    except Decline:
        return None
    return {"feed": result.get("feed") or {}, "entries": entries, "version": result["version"], "bozo": 0}


def _base(location: str) -> str:
    """The base URI feedparser resolves an entry's links against (no xml:base here)."""
    make = feedparser.urls.make_safe_absolute_uri
    base = make("", location) or make(location) or ""
    # Every start tag joins the base with itself.
    return str(make(base, base) or base) if base else base


def _resolve(base: str, value: str) -> str:
    return str(feedparser.mixin._urljoin(base, value)) if value else value


def _link_text(value: str) -> str:
    # feedparser's repair of "&amp;" in a link's query, and of "&name;" read as references.
    return _ENTITY_IN_LINK.sub(r"&\g<1>", value.replace("&amp;", "&"))


_MONTHS = {
    name: number for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
# The two forms nearly every feed writes: RFC 822 as RSS has it, and RFC 3339 as Atom has it.
_RFC822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-3][0-9]) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([12][0-9]{3}) ([0-2][0-9]):([0-5][0-9]):([0-5][0-9]) (GMT|[+-][01][0-9][0-5][0-9])"
)
_RFC3339 = re.compile(
    r"([12][0-9]{3})-([01][0-9])-([0-3][0-9])T([0-2][0-9]):([0-5][0-9]):([0-5][0-9])(Z|[+-][01][0-9]:[0-5][0-9])"
)


def _parsed_date(value: str) -> Any:
    """feedparser's time tuple (UTC) for a date. Its parser tries a dozen formats in
    turn, about 20 µs a date; the two usual forms are read here the way its RFC 822 and
    W3C-DTF handlers read them, and anything else goes to it."""
    rfc822 = _RFC822.fullmatch(value)
    if rfc822:
        day, month, year, hour, minute, second, zone = rfc822.groups()
        month_number = _MONTHS[month]
        offset = "+0000" if zone == "GMT" else zone
    else:
        rfc3339 = _RFC3339.fullmatch(value)
        if rfc3339 is None:
            return feedparser.datetimes._parse_date(value)
        year, month, day, hour, minute, second, zone = rfc3339.groups()
        month_number = int(month)
        offset = "+0000" if zone == "Z" else zone.replace(":", "")
    try:
        stamp = datetime(int(year), month_number, int(day), int(hour), int(minute), int(second))
    except ValueError:  # 31 June, hour 24...: feedparser's rules
        return feedparser.datetimes._parse_date(value)
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return (stamp + delta if offset[0] == "-" else stamp - delta).utctimetuple()


def _rss_entry(fields: list[Field], base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    has_content = False
    for kind, attrs, raw in fields:
        if kind in seen and kind not in ("category", "enclosure"):
            raise Decline  # a field twice: feedparser's precedence rules
        seen.add(kind)
        if kind == "title":
            value = raw.strip()
            kind_of = "text/plain"
            if feedparser.mixin._FeedParserMixin.looks_like_html(value):
                kind_of = "text/html"
            entry["title"] = _fix_text(value)
            entry["title_detail"] = {"type": kind_of, "base": base}
        elif kind == "link":
            value = _fix_text(_resolve(base, raw.strip()))
            entry["link"] = _link_text(value)
        elif kind == "guid":
            is_link = attrs.get("isPermaLink", "true") == "true"
            value = raw.strip()
            if is_link:
                value = _resolve(base, value)
            value = _fix_text(value)
            entry["id"] = value
            if is_link:
                entry.setdefault("link", value)
        elif kind == "published":
            value = _fix_text(raw.strip())
            entry["published_parsed"] = _parsed_date(value)
        elif kind == "creator":
            value = _fix_text(raw.strip())
            if "@" in value:
                raise Decline  # feedparser splits out an address by its own pattern
            entry["author"] = value
            entry["authors"] = [{"name": value}] if value else [{}]
        elif kind == "description":
            if "summary" in entry and not has_content:
                raise Decline
            entry["summary"] = _fix_text(raw.strip())
            entry["summary_detail"] = {"type": "text/html", "base": base}
        elif kind == "encoded":
            has_content = True
            value = _fix_text(raw.strip())
            entry["content"] = [{"type": "text/html", "base": base, "value": value}]
            entry.setdefault("summary", value)
        else:
            _podcast_field(entry, kind, attrs, raw, base, has_content)
    return entry


def _podcast_field(
    entry: dict[str, Any], kind: str, attrs: dict[str, str], raw: str, base: str, has_content: bool
) -> None:
    """An RSS item's enclosure and iTunes fields, as feedparser keeps them."""
    if kind == "enclosure":
        if raw.strip() or not attrs.get("url") or _cased(attrs):
            raise Decline
        link = {key: value for key, value in attrs.items() if key != "url"}
        link["href"], link["rel"] = attrs["url"], "enclosure"
        entry.setdefault("links", []).append(link)
    elif kind in ("itunes_duration", "itunes_episode", "itunes_season"):
        entry[kind] = _fix_text(raw.strip())
    elif kind == "itunes_explicit":
        entry[kind] = explicit_rating(raw)
    elif kind == "itunes_summary":
        # feedparser reads it as a summary (as the content when a description came
        # before it and no content did: left to feedparser).
        if "summary" in entry and not has_content:
            raise Decline
        value = raw.strip()
        looks_like_html = feedparser.mixin._FeedParserMixin.looks_like_html(value)
        entry["summary"] = _fix_text(value)
        entry["summary_detail"] = {"type": "text/html" if looks_like_html else "text/plain", "base": base}
    elif kind == "itunes_image":
        if raw.strip():
            raise Decline
        if attrs.get("href"):
            entry["image"] = {"href": attrs["href"]}


# itunes:explicit as Apple's podcast specification writes it ("true", "false") and as
# older feeds do ("yes", "explicit", "no", "clean"); anything else says nothing.
_EXPLICIT = {"true": True, "yes": True, "explicit": True, "false": False, "no": False, "clean": False}


def explicit_rating(raw: str) -> bool | None:
    return _EXPLICIT.get(raw.strip().lower())


def _cased(attrs: dict[str, str]) -> bool:
    """Whether a rel or type attribute has capitals (feedparser lower-cases them)."""
    return any(value != value.lower() for key, value in attrs.items() if key in ("rel", "type"))


def _atom_type(attrs: dict[str, str]) -> str:
    given = attrs.get("type", "text/plain")
    if given.lower() not in ATOM_TEXT_TYPES:
        raise Decline
    return _content_type(given)


def _atom_entry(fields: list[Field], base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    has_content = False
    links: list[dict[str, str]] = []
    for kind, attrs, raw in fields:
        if kind in seen and kind not in ("category", "link"):
            raise Decline
        seen.add(kind)
        if kind == "title":
            entry["title"] = _fix_text(raw.strip())
            entry["title_detail"] = {"type": _atom_type(attrs), "base": base}
        elif kind == "link":
            # An empty href is the document's own URL to feedparser; a rel or type in
            # capitals ("Alternate") it reads in lower case: left to it.
            if not attrs.get("href") or raw.strip() or _cased(attrs):
                raise Decline
            link = dict(attrs)
            link.setdefault("rel", "alternate")
            link.setdefault("type", "application/atom+xml" if link["rel"] == "self" else "text/html")
            link["href"] = _resolve(base, link["href"])
            links.append(link)
            if link["rel"] == "alternate" and _content_type(link["type"]) in HTML_TYPES:
                entry["link"] = link["href"]
        elif kind == "id":
            value = _fix_text(_resolve(base, raw.strip()))
            entry["id"] = value
            entry.setdefault("link", value)
        elif kind in ("published", "updated"):
            value = _fix_text(raw.strip())
            entry[f"{kind}_parsed"] = _parsed_date(value)
        elif kind == "author":
            name = _fix_text(raw.strip())
            entry["authors"] = [{"name": name}]
            if name:
                entry["author"] = name
        elif kind == "summary":
            if "summary" in entry and not has_content:
                raise Decline
            entry["summary"] = _fix_text(raw.strip())
            entry["summary_detail"] = {"type": _atom_type(attrs), "base": base}
        elif kind == "content":
            has_content = True
            value = _fix_text(raw.strip())
            entry["content"] = [{"type": _atom_type(attrs), "base": base, "value": value}]
            entry.setdefault("summary", value)
    if links:
        entry["links"] = links
    return entry
