"""A small site database made from the demo feeds, the same on every run.

The feeds are parsed, screened and stored as `aggregator update` would store them,
but at fixed URLs and a fixed time, without a server: the built site is then the same
byte for byte, which the golden-site test relies on.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedgen import Item, rss

from aggregator.parse import read_feed
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.types import FeedConfig, FeedKind, FetchResult, Outcome, SiteConfig

DEMO = Path(__file__).resolve().parent.parent / "aggregator" / "demo" / "feeds"
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SITE = SiteConfig(title="Test Planet", url="https://planet.example.net/", per_page=5)

SOURCES = (
    ("packet-notes.xml", "Packet Notes", FeedKind.BLOG),
    ("cloud-native-wire.xml", "Cloud Native Wire", FeedKind.BLOG),
    ("on-the-wire-podcast.xml", "On the Wire", FeedKind.PODCAST),
    ("routing-digest.rdf", "Routing Digest", FeedKind.BLOG),
    ("hijacked-blog.xml", "Hijacked Blog", FeedKind.BLOG),
)

HOSTILE = rss(
    Item(
        'BGP <script>alert("title")</script> route leaks & RFC 7908',
        guid="x1",
        link="javascript:alert(1)",
        body=(
            '<p onclick="alert(1)">Route leaks, as RFC 7908 defines them, hit AS64500 through a peer.'
            '<script>alert("body")</script><img src=x onerror="alert(2)">'
            '<a href="javascript:alert(3)">click</a> <a href="data:text/html,hi">data</a>'
            '<iframe src="https://evil.example/"></iframe> CVE-2024-12345 and '
            "draft-ietf-grow-route-leak-detection-mitigation describe the fix.</p>"
        ),
        date="Tue, 24 Nov 2026 09:00:00 GMT",
    ),
    title="Hostile <b>Feed</b>",
)


def feed_url(name: str) -> str:
    return f"https://{name.split('.')[0]}.example.net/feed.xml"


def store_feed(store: Store, screener: Screener, url: str, body: bytes, now: datetime, run: int) -> None:
    parsed, leads = read_feed(url, body, {}, now)
    verdicts = screener.screen([(e.title, lead, None) for e, lead in zip(parsed.entries, leads, strict=True)])
    stored = {e.content_hash: v.stored() for e, v in zip(parsed.entries, verdicts, strict=True)}
    store.record(
        run,
        FetchResult(url=url, status=200, outcome=Outcome.OK),
        parsed,
        now,
        None,
        stored,
        screener.threshold,
    )


def make_site_db(path: Path, screener: Screener | None = None, hostile: bool = True) -> Store:
    screener = screener or Screener.load(("en",))
    store = Store(path)
    feeds = [FeedConfig(feed_url(name), title, kind) for name, title, kind in SOURCES]
    if hostile:
        feeds.append(FeedConfig("https://hostile.example.net/feed.xml", "Hostile <Feed>"))
    store.sync_feeds(feeds, NOW)
    run = store.start_run(NOW, os.getpid())
    for name, _title, _kind in SOURCES:
        store_feed(store, screener, feed_url(name), (DEMO / name).read_bytes(), NOW, run)
    if hostile:
        store_feed(store, screener, "https://hostile.example.net/feed.xml", HOSTILE, NOW, run)
    store.index_topics()
    return store


def add_feed(
    store: Store,
    screener: Screener,
    url: str,
    name: str,
    body: bytes,
    when: datetime = NOW,
    kind: FeedKind = FeedKind.BLOG,
) -> None:
    """One more feed in the site database: listed, its document stored and screened as an
    update would, and its topics indexed."""
    store.sync_feeds([FeedConfig(url, name, kind)], when)
    store_feed(store, screener, url, body, when, store.start_run(when, os.getpid()))
    store.index_topics()


def add_posts(store: Store, count: int, when: datetime, screener: Screener | None = None) -> None:
    """count new posts from a feed of their own, one hour apart, the newest at when."""
    screener = screener or Screener.load(("en",))
    url = "https://new-posts.example.net/feed.xml"
    store.sync_feeds([FeedConfig(url, "New Posts")], when)
    items = [
        Item(
            f"OSPF area design note {i}",
            guid=f"n{i}",
            link=f"https://new-posts.example.net/{i}",
            body=f"<p>Area {i}: stub areas, LSA flooding and SPF timers in an OSPF network, note {i}.</p>",
            date=(when - timedelta(hours=count - i)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        )
        for i in range(count)
    ]
    store_feed(store, screener, url, rss(*items), when, store.start_run(when, os.getpid()))
    store.index_topics()
