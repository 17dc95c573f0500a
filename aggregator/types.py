"""Frozen, typed records passed between stages.

Third-party shapes (feedparser dicts, httpx responses) are converted into these at
the edge of the module that talks to the library, and never cross a stage boundary.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


class FeedKind(enum.StrEnum):
    BLOG = "blog"
    PODCAST = "podcast"


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str
    kind: FeedKind = FeedKind.BLOG
    language: str | None = None
    topics: tuple[str, ...] = ()
    allow_private_addresses: bool = False
    line: int = 0  # where the entry starts in feeds.yaml, for messages


@dataclass(frozen=True)
class FetchSettings:
    concurrency: int = 128
    per_host: int = 2
    timeout: float = 20.0
    deadline: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    # False: none; True: every private address; otherwise the exact allowed
    # addresses, networks and host:port pairs.
    allow_private_addresses: bool | tuple[str, ...] = False
    user_agent: str = ""
    parse_workers: int = 0  # 0 = one per CPU core
    # The longest a server's Cache-Control max-age or Expires, or a feed's <ttl>, keeps a
    # feed from being fetched (seconds). 0, the default: every run asks for every feed
    # (conditionally), as cron users and the peers expect; set it to be asked less often.
    max_fresh_wait: float = 0.0


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Network Engineering Planet"
    url: str = "http://localhost/"
    output: str = "public"  # where `aggregator build` writes; relative to the config file
    per_page: int = 50  # posts on each page of the river, a topic or a source
    description: str = "English networking posts and podcasts, screened and tagged by topic."
    # The podcast feeds' square artwork: an http(s) URL, or a path relative to url. The
    # default is the PNG the theme ships (static/), so it is always in the built site.
    podcast_image: str = "static/podcast.png"
    # Posts the search index covers, the newest first (0: no search). Pagefind rebuilds
    # its index whole whenever a post changes, in time and memory that grow with it
    # (150,000 posts: 130 s and 5.7 GB on every hourly build; 10,000: 9 s and 480 MB,
    # bench/site_bench.py); older posts stay on their topic, source and digest pages.
    search_posts: int = 10_000
    # The site's language when `languages` names one ("" when several: the posts are of
    # more than one, and no feed or page says one language for all of them).
    language: str = "en"


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str = ""
    topics: tuple[str, ...] = ()  # empty: every topic, and untagged posts too
    frequency: Frequency = Frequency.WEEKLY
    day: int = 0  # weekly digests: 0 = Monday ... 6 = Sunday
    hour: int = 7  # UTC hour from which the digest is due
    line: int = 0


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password_env: str = "AGGREGATOR_SMTP_PASSWORD"  # the password is read from this variable
    timeout: float = 30.0
    ca_file: str | None = None  # a private CA's certificate (PEM) to trust, besides the system's


@dataclass(frozen=True)
class DigestConfig:
    sender: str  # the From address, such as "Planet <planet@example.net>"
    subscribers: tuple[Subscriber, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    unsubscribe: str | None = None  # mailto: or https: address for List-Unsubscribe


@dataclass(frozen=True)
class Config:
    path: str
    site: SiteConfig
    languages: tuple[str, ...]
    fetch: FetchSettings
    feeds: tuple[FeedConfig, ...]
    database: str  # absolute path
    digest: DigestConfig | None = None


class Outcome(enum.StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    GONE = "gone"
    SKIPPED = "skipped"  # not due yet (backoff, Retry-After) or marked gone


@dataclass(frozen=True)
class FetchResult:
    """What the network gave for one feed: a body to parse, or not."""

    url: str
    status: int | None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None
    retry_after: float | None = None  # seconds
    error: str | None = None
    outcome: Outcome = Outcome.OK
    elapsed: float = 0.0
    body_hash: str | None = None  # sha256 of the body, to skip parsing a byte-identical one
    # How long the server says the response stays fresh (Cache-Control max-age less Age,
    # else Expires less Date), in seconds, and the header that says so; None: no word.
    fresh_for: float | None = None
    fresh_by: str | None = None


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds from the start of the episode
    title: str
    href: str | None = None


@dataclass(frozen=True)
class PodcastInfo:
    duration: int | None = None  # seconds
    episode: int | None = None
    season: int | None = None
    chapters: tuple[Chapter, ...] = ()
    chapters_url: str | None = None
    image: str | None = None
    # itunes:explicit: True, False, or None when the feed says nothing. Left out of the
    # repr, which the content hash reads: episodes stored before it was kept are not
    # taken for changed ones.
    explicit: bool | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ParsedEntry:
    guid: str | None
    link: str | None  # absolute, tracking parameters removed
    title: str  # plain text
    authors: tuple[str, ...]
    published: datetime | None  # as the feed gave it, if plausible
    updated: datetime | None
    content_html: str  # sanitized
    summary_html: str  # sanitized
    excerpt: str  # plain text
    enclosures: tuple[Enclosure, ...] = ()
    podcast: PodcastInfo | None = None
    date_note: str | None = None  # why a feed date was not used
    content_hash: str = ""  # digest of all the fields above, set by the parser


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str
    link: str | None
    language: str | None
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None  # recovered from malformed XML, for example
    ttl: int | None = None  # the feed's <ttl>, in seconds: how long it may be cached


@dataclass(frozen=True)
class FeedOutcome:
    """The result of one feed in one run: always recorded, never raised."""

    url: str
    outcome: Outcome
    status: int | None = None
    new: int = 0
    updated: int = 0
    error: str | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    outcomes: tuple[FeedOutcome, ...] = field(default_factory=tuple)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.outcomes)

    @property
    def failed(self) -> int:
        return self.count(Outcome.ERROR) + self.count(Outcome.GONE)

    def line(self) -> str:
        return (
            f"{len(self.outcomes)} feeds: {self.count(Outcome.OK)} ok, "
            f"{self.count(Outcome.NOT_MODIFIED)} not modified, {self.failed} failed, "
            f"{self.count(Outcome.SKIPPED)} skipped; "
            f"{self.new} new posts, {self.updated} updated"
        )


@dataclass(frozen=True)
class StoredVerdict:
    """What the store writes for a screened post: the decision, and the columns as text."""

    keep: bool
    reason: str | None
    lang: str
    score: float
    model_version: str
    scores_json: str  # Verdict.scores() as JSON, keys sorted
    tags_json: str  # [{"topic", "score", "terms"}, ...] as JSON
    topics: tuple[tuple[str, float], ...]  # (topic, score) of every tag


def shared_guids(entries: Iterable[ParsedEntry]) -> frozenset[str]:
    """The guids a document gives to different posts (other links or titles): one
    generator writes the same guid for every item. The same post repeated keeps its."""
    seen: dict[str, tuple[str | None, str]] = {}
    shared: set[str] = set()
    for entry in entries:
        if entry.guid:
            first = seen.setdefault(entry.guid, (entry.link, entry.title))
            if first != (entry.link, entry.title):
                shared.add(entry.guid)
    return frozenset(shared)
