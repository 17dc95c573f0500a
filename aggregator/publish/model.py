"""What the site shows, read from the store once and turned into frozen records.

Publishing never touches the network: everything here comes from the database (kept
posts, their published topics, their sources) and the taxonomy.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..store import Store
from ..topics.taxonomy import Topic
from ..types import Chapter, SiteConfig
from ..urls import clean_link, on_own_site, resolve, without_credentials


@dataclass(frozen=True, slots=True)
class PostTopic:
    topic: str
    score: float
    terms: tuple[str, ...]  # the grams that weighed most (empty when a correction set it)


@dataclass(frozen=True, slots=True)
class Episode:
    audio_url: str
    audio_type: str
    length: int | None  # bytes, as the feed states it
    duration: int | None  # seconds
    number: int | None
    season: int | None
    chapters: tuple[Chapter, ...]
    image: str | None
    explicit: bool | None = None  # as its feed rates it; None: not said


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    title: str
    link: str | None
    source: str  # the feed's name in feeds.yaml
    source_slug: str
    feed_url: str
    authors: tuple[str, ...]
    published: datetime
    updated: datetime | None
    excerpt: str
    topics: tuple[PostTopic, ...]
    episode: Episode | None
    digest: str = ""  # changes whenever anything shown of the post changes
    tags_json: str = "[]"  # the model's tags with their terms, read when a page shows them
    # The other feeds that carry the same post (same link and title): (name, slug) each.
    also: tuple[tuple[str, str], ...] = ()
    first_seen: str = ""  # when it was first stored (ISO, UTC)
    # The id its feed entries carry: a story several feeds carry keeps the id of the copy
    # stored first, whichever copy tells it, so readers never see it twice.
    entry_id: str = ""

    @property
    def public_feed_url(self) -> str:
        """The feed's address as published: without the credentials it is fetched with."""
        return without_credentials(self.feed_url)

    @property
    def feed_id(self) -> str:
        return self.entry_id or self.id

    @property
    def modified(self) -> datetime:
        """When it last changed as far as a reader can tell: its source's updated date,
        or its publication, whichever is later (a scheduled post can be updated before
        it is published)."""
        return max(self.published, self.updated) if self.updated else self.published

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(t.topic for t in self.topics)

    @property
    def explained(self) -> tuple[PostTopic, ...]:
        """The published topics, each with the terms that weighed most (none when the
        site's corrections gave the topic)."""
        terms = {t["topic"]: tuple(t.get("terms") or ()) for t in json.loads(self.tags_json or "[]")}
        return tuple(PostTopic(t.topic, t.score, terms.get(t.topic, ())) for t in self.topics)


@dataclass(frozen=True)
class Source:
    url: str  # the feed's URL
    name: str
    slug: str
    kind: str
    link: str | None  # the site the feed belongs to
    # False once the feed left feeds.yaml: its posts stay on the site (the archive), but
    # it is no longer listed as a source, in the OPML or on the health pages.
    current: bool = True
    topics: tuple[str, ...] = ()  # the topic hints feeds.yaml gives the feed

    @property
    def public_url(self) -> str:
        """The feed's address as published: without the credentials it is fetched with."""
        return without_credentials(self.url)


@dataclass(frozen=True)
class SiteData:
    config: SiteConfig
    # Newest first, a post several feeds carry once (its first publication, with the
    # others in `also`): the river, the topics, their feeds, the digests, search.
    posts: tuple[Post, ...]
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    built: datetime
    # Every feed's own posts, newest first (each source's page lists all of its own).
    every_post: tuple[Post, ...] = ()

    @property
    def own_posts(self) -> tuple[Post, ...]:
        """Every feed's own posts: every_post, or the posts when no feed carries another's."""
        return self.every_post or self.posts

    @property
    def current_sources(self) -> tuple[Source, ...]:
        """The sources feeds.yaml lists now."""
        return tuple(s for s in self.sources if s.current)


def slugify(text: str, fallback: str = "item") -> str:
    """A lower-case ASCII name for a file: letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return slug or fallback


def _slugs(names: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """key -> a unique slug of its name, from (key, name, added) each. On a clash the
    one added first keeps the plain slug and later ones get -2, -3 ...: a feed added
    later never moves an existing source's page to another address."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for key, name, _added in sorted(names, key=lambda n: (n[2], n[0])):
        base = slugify(name, "source")
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        out[key] = slug
    return out


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# An enclosure of a podcast's item that states no media type (or only "some bytes") is
# taken for its audio; one that states another type (a PDF transcript, an image) never is.
_UNTYPED = ("", "application/octet-stream", "binary/octet-stream")


def _audio_first(enclosures: list[dict[str, Any]], podcast: bool) -> list[dict[str, Any]]:
    """The enclosures that can be an episode's audio, those that say so first."""
    typed = [e for e in enclosures if str(e.get("type") or "").lower().startswith(("audio/", "video/"))]
    untyped = [e for e in enclosures if podcast and str(e.get("type") or "").lower() in _UNTYPED]
    return typed + untyped


# A media type as RFC 6838 writes one: type/subtype, no parameters, quotes or spaces.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def _audio_type(stated: str, url: str) -> str:
    """The enclosure's media type for the feeds: the one stated when it names audio or
    video, else the one its file name says (podcast apps play only those), else MP3."""
    kind = stated.strip().lower()
    if _MEDIA_TYPE.fullmatch(kind) and kind.startswith(("audio/", "video/")):
        return kind
    extension = urlsplit(url).path.rpartition(".")[2].lower()
    if extension in _MEDIA_BY_EXTENSION:
        return _MEDIA_BY_EXTENSION[extension]
    return kind if _MEDIA_TYPE.fullmatch(kind) and kind not in _UNTYPED else "audio/mpeg"


# The media files podcasts publish, by extension: a table of our own, so that the feeds
# are the same bytes on every machine (mimetypes reads the host's /etc/mime.types).
_MEDIA_BY_EXTENSION = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}


def _episode(row: dict[str, Any]) -> Episode | None:
    if row["enclosures"] in (None, "", "[]"):
        return None
    for enclosure in _audio_first(json.loads(row["enclosures"]), row["kind"] == "podcast"):
        kind = str(enclosure.get("type") or "")
        # resolve, not clean_link: the URL as the show gave it, its whole query (a signed
        # CDN URL's signature covers it) and fragment; http(s) and percent-encoded all the same.
        url = resolve(enclosure.get("url"), None)
        if url:
            chapters = tuple(
                Chapter(float(c["start"]), str(c["title"]), resolve(c.get("href"), None))
                for c in json.loads(row["chapters"] or "[]")
            )
            return Episode(
                audio_url=url,
                audio_type=_audio_type(kind, url),
                length=enclosure.get("length"),
                duration=row["duration"],
                number=row["episode"],
                season=row["season"],
                chapters=chapters,
                image=resolve(row["image"], None),
                explicit=None if row.get("explicit") is None else bool(row["explicit"]),
            )
    return None


def _topics(row: dict[str, Any]) -> tuple[PostTopic, ...]:
    # Terms are read from the tags only when a page shows them (Post.explained).
    return tuple(PostTopic(topic, float(score), ()) for topic, score in row["topics"])


def load_site(
    store: Store,
    config: SiteConfig,
    taxonomy: tuple[Topic, ...],
    now: datetime,
    configured: Mapping[str, tuple[str, ...]] | None = None,
) -> SiteData:
    """configured: the URLs feeds.yaml lists, with their topic hints (None: every stored
    feed is current, with none)."""
    known = {t.name for t in taxonomy}
    feeds = store.feeds()
    slugs = _slugs((f["url"], f["name"], f["added"]) for f in feeds)
    sources = tuple(
        Source(
            f["url"],
            f["name"],
            slugs[f["url"]],
            f["kind"],
            clean_link(f["link"]),
            configured is None or f["url"] in configured,
            tuple(t for t in (configured or {}).get(f["url"], ()) if t in known),
        )
        for f in feeds
    )
    posts = []
    for row in store.published_posts():
        published = _when(row["published"]) or now
        slug = slugs.get(row["feed_url"], "source")
        authors = row["authors"]
        posts.append(
            Post(
                id=row["id"],
                title=row["title"] or "(untitled)",
                # Cleaned again on the way out: a row stored before links were percent-encoded
                # must not publish a raw one (a normal link comes back as it is, cheaply).
                link=clean_link(row["link"]),
                source=row["source"],
                source_slug=slug,
                feed_url=row["feed_url"],
                authors=tuple(json.loads(authors)) if authors and authors != "[]" else (),
                published=published,
                updated=_when(row["updated"]),
                excerpt=row["excerpt"] or "",
                topics=tuple(t for t in _topics(row) if t.topic in known),
                episode=_episode(row),
                # From the stored values (cheap), not from the record's repr (slow).
                tags_json=row["tags"] or "[]",
                digest=hashlib.sha1(repr((*row.values(), slug)).encode(), usedforsecurity=False).hexdigest(),
                first_seen=row["first_seen"] or "",
            )
        )
    every, stories = merge_carried(posts)
    return SiteData(config, stories, sources, taxonomy, now, every)


def merge_carried(posts: list[Post]) -> tuple[tuple[Post, ...], tuple[Post, ...]]:
    """(every post, the posts as stories), newest first. A post that several feeds carry
    (a member's post syndicated by a team blog, a guest post) has the same link and
    title in each: it is one story, shown once, with the other feeds in `also` (every
    copy gets them, for its own source's page). A link a feed gives more than one post (a
    podcast whose episodes all link to the show's home page) identifies none.

    The copy shown is the one from the feed served from the link's own site, else the
    first published: a feed that copies another member's title and link, with its own
    text and an earlier date, does not get its text shown under them."""
    per_feed: dict[tuple[str, str], int] = defaultdict(int)
    for post in posts:
        if post.link:
            per_feed[(post.feed_url, post.link)] += 1
    groups: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    for i, post in enumerate(posts):
        if post.link and per_feed[(post.feed_url, post.link)] == 1:
            groups[story_key(post)].append(i)
    every = list(posts)
    hidden: set[int] = set()
    for members in groups.values():
        if len({posts[i].feed_url for i in members}) < 2:
            continue
        for i in members:
            others = tuple(dict.fromkeys((posts[k].source, posts[k].source_slug) for k in members if k != i))
            post = posts[i]
            digest = hashlib.sha1(repr((post.digest, others)).encode(), usedforsecurity=False).hexdigest()
            every[i] = replace(post, also=others, digest=digest)
        first = min(
            members,
            key=lambda i: (
                not on_own_site(posts[i].link, posts[i].feed_url),
                posts[i].published,  # then the oldest
                -i,  # newest-first order
            ),
        )
        stored_first = min(members, key=lambda i: (posts[i].first_seen, posts[i].id))
        every[first] = replace(every[first], entry_id=posts[stored_first].id)
        hidden.update(i for i in members if i != first)
    stories = tuple(post for i, post in enumerate(every) if i not in hidden)
    return tuple(every), stories


def story_key(post: Post) -> tuple[str | None, str]:
    """What makes copies of a post in several feeds one story: its link and its title
    (case and spacing aside)."""
    return post.link, " ".join(post.title.casefold().split())


def week_of(day: date) -> str:
    """ISO week name, such as 2026-W48."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_days(week: str) -> tuple[date, date]:
    start = monday_of(week)
    return start, start + timedelta(days=6)
