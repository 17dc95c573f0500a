"""Turn a fetched body into a ParsedFeed: feedparser in, frozen records out.

feedparser's own sanitizer and relative-URI resolution are turned off (they cost most
of its time); nh3 sanitizes with an allow-list and resolves URLs instead. This module
is pure (no I/O, the clock passed in), so it can run in worker processes.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import escape, unescape
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.namespaces.itunes
from defusedxml import DefusedXmlException

from . import fastfeed, feedparsing, xmlguard
from .errors import ParseError
from .sanitize import clean_html, clean_text, excerpt, plain_text
from .screen.text import EXCERPT_CHARS, leads
from .types import Chapter, Enclosure, ParsedEntry, ParsedFeed, PodcastInfo, shared_guids
from .urls import clean_link, resolve, without_credentials

EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(hours=48)
MAX_EXPANSION = 10  # parsed text may be at most this many times the body, plus slack
EXPANSION_SLACK = 256 * 1024
MAX_FIELD = 1000  # guid, title, author: longer values are cut

_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
feedparsing.install()  # same results, faster: see feedparsing.py
xmlguard.install()  # bounded: no entity expanded, depth and entries capped (xmlguard.py)


def _end_itunes_explicit(self: Any) -> None:
    """feedparser reads only "yes" and "clean" (the 2005 values), so a show rated "true"
    was published as clean: its handler reads the rating as the fast reader does."""
    value = self.pop("itunes_explicit", 0)
    self._get_context()["itunes_explicit"] = (
        fastfeed.explicit_rating(value) if isinstance(value, str) else None
    )


feedparser.namespaces.itunes.Namespace._end_itunes_explicit = _end_itunes_explicit


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _plausible(value: datetime | None, now: datetime) -> bool:
    return value is not None and EARLIEST_DATE <= value <= now + FUTURE_SLACK


def _dates(entry: Any, now: datetime) -> tuple[datetime | None, datetime | None, str | None]:
    # dict.get skips FeedParserDict's deprecated updated->published fallback mapping.
    published = _struct_to_datetime(dict.get(entry, "published_parsed"))
    updated = _struct_to_datetime(dict.get(entry, "updated_parsed"))
    note = None
    given = [d for d in (published, updated) if d is not None]
    if published is not None and not _plausible(published, now):
        note = f"published date {published:%Y-%m-%d} is implausible; ignored"
        published = None
    if updated is not None and not _plausible(updated, now):
        note = note or f"updated date {updated:%Y-%m-%d} is implausible; ignored"
        updated = None
    if not given:
        note = "no date in the feed"
    return published, updated, note


def _text(value: Any, detail: Mapping[str, Any] | None) -> str:
    if not value:
        return ""
    value = str(value)
    kind = (detail or {}).get("type", "text/html")
    if kind == "text/plain":
        return clean_text(value)
    return plain_text(value)


def _html_of(value: str, kind: str | None, base: str | None) -> str:
    if kind == "text/plain":
        paragraphs = [p.strip() for p in value.split("\n\n") if p.strip()]
        return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return clean_html(value, base)


def _content(entry: Mapping[str, Any], feed_url: str) -> tuple[str, str]:
    content_html = ""
    contents = entry.get("content") or []
    best = None
    for item in contents:
        if item.get("type") in ("text/html", "application/xhtml+xml"):
            best = item
            break
    if best is None and contents:
        best = contents[0]
    if best is not None:
        content_html = _html_of(best.get("value", ""), best.get("type"), best.get("base") or feed_url)
    summary_html = ""
    summary = entry.get("summary")
    # feedparser copies content into summary when there is no description: keep one copy.
    if summary and not (best is not None and summary == best.get("value")):
        detail = entry.get("summary_detail") or {}
        summary_html = _html_of(summary, detail.get("type"), detail.get("base") or feed_url)
    return content_html, summary_html


MAX_INTEGER = 2**63 - 1  # the largest an SQLite INTEGER holds: larger failed the feed's store
MAX_DURATION = 7 * 24 * 3600  # no episode lasts a week: a larger value is a mistake (milliseconds, ...)


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= MAX_INTEGER else None


def _clock_seconds(value: Any) -> float | None:
    """'1:02:03', '48:05', '2917' or '2917.5' (hours, minutes and seconds, the leading ones
    optional, as itunes:duration and Normal Play Time write them) as seconds; None for
    anything else, or for NaN, infinity or over a week (no episode lasts that long)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        return None
    if len(parts) > 3 or any(not 0 <= p < math.inf for p in parts):  # negative, NaN, infinite
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds if seconds <= MAX_DURATION else None


def parse_duration(value: Any) -> int | None:
    """itunes:duration as whole seconds (see _clock_seconds)."""
    seconds = _clock_seconds(value)
    return None if seconds is None else round(seconds)


_PODCAST_KEYS = (
    "itunes_duration",
    "itunes_explicit",
    "itunes_episode",
    "itunes_season",
    "psc_chapters",
    "podcast_chapters",
    "image",
)


def _podcast(entry: dict[str, Any], base: str, lenient: bool = False) -> PodcastInfo | None:
    if not any(key in entry for key in _PODCAST_KEYS):
        return None  # most blog posts: nothing to look at
    chapters: list[Chapter] = []
    psc = entry.get("psc_chapters") or {}
    for chapter in psc.get("chapters", []):
        # feedparser reads only two-digit HH:MM:SS and MM:SS; Podlove's chapter marks are
        # Normal Play Time, which also writes "1:23:45.678", "5:23" and "42".
        parsed = chapter.get("start_parsed")
        start = parsed.total_seconds() if parsed is not None else _clock_seconds(chapter.get("start"))
        title = str(chapter.get("title", ""))
        # A malformed document read leniently leaves entities in attribute values
        # ("The &quot;zero trust&quot; myth"); a well-formed one has them decoded.
        title = clean_text(unescape(title) if lenient else title)[:MAX_FIELD]
        if start is None or not title:
            continue
        chapters.append(Chapter(start=start, title=title, href=resolve(chapter.get("href"), base)))
    chapters.sort(key=lambda c: c.start)
    chapters_url = resolve((entry.get("podcast_chapters") or {}).get("url"), base)
    image = entry.get("image") or {}
    explicit = entry.get("itunes_explicit")
    info = PodcastInfo(
        explicit=explicit if isinstance(explicit, bool) else None,
        duration=parse_duration(entry.get("itunes_duration")),
        episode=_int(entry.get("itunes_episode")),
        season=_int(entry.get("itunes_season")),
        chapters=tuple(chapters),
        chapters_url=chapters_url,
        image=resolve(image.get("href") if isinstance(image, Mapping) else None, base),
    )
    if info == PodcastInfo():
        return None
    return info


def _enclosures(entry: dict[str, Any], base: str) -> tuple[Enclosure, ...]:
    out: list[Enclosure] = []
    seen: set[str] = set()
    for item in entry.get("links") or ():
        if item.get("rel") != "enclosure":
            continue
        url = resolve(item.get("href"), base)
        if not url or url in seen:
            continue
        seen.add(url)
        kind = clean_text(str(item.get("type") or ""))[:100] or None
        out.append(Enclosure(url=url, type=kind, length=_int(item.get("length"))))
    return tuple(out)


def _authors(entry: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or ():
        name = author.get("name") or author.get("email") if isinstance(author, Mapping) else None
        if name:
            names.append(plain_text(str(name))[:MAX_FIELD])
    if not names and entry.get("author"):
        names.append(plain_text(str(entry["author"]))[:MAX_FIELD])
    return tuple(dict.fromkeys(n for n in names if n))


def _entry(
    parsed: Mapping[str, Any], feed_url: str, now: datetime, lenient: bool = False
) -> tuple[ParsedEntry, str]:
    """The entry, and its lead text (for screening and tagging): from its summary, or
    from its content when the summary is too short to say much (a one-line teaser)."""
    # A plain dict: FeedParserDict's key aliasing makes every lookup several times slower.
    entry = dict(parsed)
    base = feed_url
    content_html, summary_html = _content(entry, feed_url)
    published, updated, note = _dates(entry, now)
    guid = entry.get("id")
    teaser, lead = leads(summary_html, content_html)
    fields: dict[str, Any] = {
        "guid": (clean_text(str(guid))[:MAX_FIELD] or None) if guid else None,
        "link": clean_link(entry.get("link"), base),
        "title": _text(entry.get("title"), entry.get("title_detail"))[:MAX_FIELD],
        "authors": _authors(entry),
        "published": published,
        "updated": updated,
        "content_html": content_html,
        "summary_html": summary_html,
        "excerpt": excerpt(teaser or lead, EXCERPT_CHARS),
        "enclosures": _enclosures(entry, base),
        "podcast": _podcast(entry, base, lenient),
        "date_note": note,
    }
    return ParsedEntry(**fields, content_hash=_digest(fields)), lead


# Content at least this long identifies a post by itself: a second entry of one document
# with the same title, content and enclosures is the same post again (a flood of copies
# under fresh guids), not a new one. Shorter content says too little: link posts and
# photo posts share a title and an empty body and differ by their link.
REPEAT_MIN_CHARS = 200


def _without_repeats(
    read: list[tuple[ParsedEntry, str]],
) -> tuple[list[tuple[ParsedEntry, str]], int]:
    """The entries less those that repeat an earlier one's title, content and enclosures,
    and how many were left out."""
    seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
    kept = []
    for entry, lead in read:
        if len(entry.content_html) + len(entry.summary_html) >= REPEAT_MIN_CHARS:
            media = tuple(e.url for e in entry.enclosures)
            key = (entry.title, entry.content_html, entry.summary_html, media)
            if key in seen:
                continue
            seen.add(key)
        kept.append((entry, lead))
    return kept, len(read) - len(kept)


_NO_PODCAST_FIELDS = PodcastInfo()


def _rated(entries: tuple[ParsedEntry, ...], show: Any) -> tuple[ParsedEntry, ...]:
    """Episodes the show rates (its channel's itunes:explicit) and that rate themselves
    not: many shows rate only the channel. Posts without audio are left as they are."""
    if not isinstance(show, bool):
        return entries
    return tuple(
        replace(entry, podcast=replace(entry.podcast or PodcastInfo(), explicit=show))
        if entry.enclosures and (entry.podcast is None or entry.podcast.explicit is None)
        else entry
        for entry in entries
    )


def _digest(fields: dict[str, Any]) -> str:
    """A digest of everything an entry carries, to tell a changed post from a re-fetch."""
    published, updated = fields["published"], fields["updated"]
    parts = (
        fields["guid"] or "",
        fields["link"] or "",
        fields["title"],
        "\x1f".join(fields["authors"]),
        published.isoformat() if published else "",
        updated.isoformat() if updated else "",
        fields["date_note"] or "",
        fields["content_html"],
        fields["summary_html"],
        repr(fields["enclosures"]) if fields["enclosures"] else "",  # repr lists every field
        # A rating alone hashes as no podcast fields, as it did before ratings were kept.
        repr(fields["podcast"])
        if fields["podcast"] and replace(fields["podcast"], explicit=None) != _NO_PODCAST_FIELDS
        else "",
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _with_ids_of(result: Any, home: Any) -> Any:
    """result with its entries' ids as home (the same document read against another
    base) has them; result as it is if the two read different entries."""
    entries = result.get("entries") or []
    ids = [entry.get("id") for entry in home.get("entries") or []]
    if len(ids) != len(entries):
        return result
    return {**result, "entries": [{**e, "id": i} if i else e for e, i in zip(entries, ids, strict=True)]}


def parse_feed(
    url: str, body: bytes, headers: Mapping[str, str] | None = None, now: datetime | None = None
) -> ParsedFeed:
    """Parse a feed body fetched from url. Raises ParseError when it is not a usable feed."""
    return read_feed(url, body, headers, now)[0]


def read_feed(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    *,
    fast: bool = True,
    fetched_from: str | None = None,
) -> tuple[ParsedFeed, tuple[str, ...]]:
    """parse_feed(), and the lead text of each entry (plain text from the start of its
    summary or content), which screening and tagging read: made once, for the excerpt
    and for them. fast: read plain RSS and Atom entries with fastfeed.py (the same
    result); False runs feedparser on every document. fetched_from: the URL the body came
    from after redirects, when not url."""
    now = now or datetime.now(UTC)
    declares_entities = xmlguard.check_entities(url, body)
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    # Relative links are relative to where the document was found: after a redirect
    # (a blog that moved), that is not the configured URL. A user name and password in
    # the URL are for fetching the feed; links resolved against it must not carry them.
    base = without_credentials(fetched_from or url)
    # A Content-Location the server sends is relative to where it was found, and the
    # links inside are relative to it (left relative, they were dropped as unsafe).
    location = response_headers.get("content-location")
    response_headers["content-location"] = without_credentials(urljoin(base, location)) if location else base

    def parsed_with(found_at: Mapping[str, str]) -> Any:
        def run_feedparser(document: bytes) -> Any:
            # A file-like object: given bytes or a str, feedparser may treat them as a path or URL to open.
            return feedparser.parse(
                io.BytesIO(document),
                response_headers=found_at,
                sanitize_html=False,
                resolve_relative_uris=False,
            )

        return (fast and fastfeed.read(body, found_at, run_feedparser)) or run_feedparser(body)

    try:
        result = parsed_with(response_headers)
        # An entry's id is its identity, not a link: a relative Atom id resolved against
        # where a redirect led (a CDN's 302) would make every post a new one. Ids resolve
        # against the configured URL as written, as they always have (credentials and
        # all: ids are never published, and changed they would store every post again).
        home = urljoin(url, location) if location else url
        if home != response_headers["content-location"]:
            result = _with_ids_of(result, parsed_with({**response_headers, "content-location": home}))
    except DefusedXmlException as exc:
        raise ParseError(
            url, f"refused: {exc} (entity declarations and external references are not read)"
        ) from None
    except xmlguard.Unbounded as exc:
        raise ParseError(url, f"refused: {exc}") from None
    entries = result.get("entries") or []
    problem = result.get("bozo_exception")
    # A missing or odd Content-Type, or an encoding override, is not a defect of the feed.
    bozo = bool(result.get("bozo")) and not isinstance(problem, _HARMLESS)
    if not entries and (bozo or not result.get("version")):
        why = f" ({problem})" if problem else ""
        if not result.get("version"):
            raise ParseError(
                url, f"not an RSS or Atom feed{why}; is the URL a web page rather than its feed?"
            )
        if bozo:
            raise ParseError(url, f"malformed feed with no readable entries{why}")
    feed = result.get("feed") or {}
    read, repeats = _without_repeats([_entry(e, base, now, lenient=bozo) for e in entries])
    parsed = _rated(tuple(entry for entry, _ in read), feed.get("itunes_explicit"))
    size = sum(len(e.content_html) + len(e.summary_html) + len(e.title) for e in parsed)
    if size > MAX_EXPANSION * len(body) + EXPANSION_SLACK:
        raise ParseError(url, f"refused: {len(body):,} bytes expanded to {size:,} characters of text")
    notes = []
    if bozo:
        notes.append(f"malformed XML, read leniently: {problem}")
        if len(body) > xmlguard.MAX_LENIENT_CHARS:
            notes.append(f"only its first {xmlguard.MAX_LENIENT_CHARS:,} characters were read")
    if declares_entities:
        notes.append("the DTD's entity declarations were not expanded (entity-expansion guard)")
    shared = shared_guids(parsed)
    if shared:
        notes.append(
            f"{sum(e.guid in shared for e in parsed)} posts share a guid with other posts "
            f"({', '.join(repr(g[:60]) for g in sorted(shared)[:3])}): told apart by their links, "
            "else titles and dates"
        )
    if len(parsed) + repeats >= xmlguard.MAX_ENTRIES:
        notes.append(f"only the first {xmlguard.MAX_ENTRIES:,} entries were read")
    if repeats:
        notes.append(
            f"{repeats:,} entries repeat an earlier entry's title and content; each post was read once"
        )
    nameless = sum(1 for e in parsed if not (e.guid or e.link or e.title))
    if nameless:  # the store cannot tell them apart from one fetch to the next
        notes.append(f"{nameless:,} entries have no guid, link or title, and were left out")
    warning = "; ".join(notes) or None
    language = feed.get("language")
    feed_record = ParsedFeed(
        url=url,
        title=_text(feed.get("title"), feed.get("title_detail"))[:MAX_FIELD],
        link=clean_link(feed.get("link"), url),
        language=clean_text(str(language))[:20].lower() if language else None,
        entries=parsed,
        warning=warning,
        ttl=_ttl(feed.get("ttl")),
    )
    return feed_record, tuple(lead for _, lead in read)


# An RSS <ttl> past a year is a typo or a joke; fetch.max_fresh_wait bounds it further.
MAX_TTL_MINUTES = 366 * 24 * 60


def _ttl(value: Any) -> int | None:
    """An RSS channel's <ttl> (minutes it may be cached before it is fetched again), in
    seconds; None when absent, not a whole number, or zero."""
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or not int(text):
        return None
    return min(int(text), MAX_TTL_MINUTES) * 60
