"""Every published XML feed read back with a strict, namespace-aware XML parser.

feedparser forgives a misplaced namespace; podcast directories and strict readers do
not. So each format is parsed with xml.etree (expat): the root's qualified name, the
namespaces declared on it, the elements each spec requires, and the dates' formats.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from feedgen import Item, rss
from sitekit import NOW, SITE, add_feed, make_site_db, store_feed

from aggregator.publish.site import build_site
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.topics.taxonomy import load_taxonomy
from aggregator.types import FeedConfig, FeedKind, SiteConfig

ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
# Apple Podcasts' top-level categories.
APPLE_CATEGORIES = {
    "Arts",
    "Business",
    "Comedy",
    "Education",
    "Fiction",
    "Government",
    "History",
    "Health & Fitness",
    "Kids & Family",
    "Leisure",
    "Music",
    "News",
    "Religion & Spirituality",
    "Science",
    "Society & Culture",
    "Sports",
    "Technology",
    "True Crime",
    "TV & Film",
}
RFC822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}"
    r" \d\d:\d\d:\d\d GMT"
)
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)")
UNSIZED = "https://unsized-podcast.example.net/feed.xml"


@dataclass(frozen=True)
class Document:
    root: ET.Element
    declared: dict[str, str]  # prefix ("" for the default) -> namespace, on the root


def read(path: Path) -> Document:
    """Parse strictly; keep the namespace declarations the root element carries."""
    declared: dict[str, str] = {}
    root = None
    for event, value in ET.iterparse(path, events=("start-ns", "start")):
        if event == "start-ns" and root is None:
            prefix, uri = value
            declared[prefix] = uri
        elif event == "start" and root is None:
            root = value
    assert root is not None
    return Document(root, declared)


def build(tmp_path: Path, site: SiteConfig, screener: Screener) -> Path:
    store = make_site_db(tmp_path / "site.db", screener)
    # A podcast whose feed states no enclosure length.
    store.sync_feeds([FeedConfig(UNSIZED, "Unsized Podcast", FeedKind.PODCAST)], NOW)
    episode = Item(
        "Unsized 001: BGP route reflectors and add-path in a large ISP network",
        guid="u1",
        link="https://unsized-podcast.example.net/1",
        body="<p>Route reflectors, BGP add-path, iBGP convergence and prefix policy in an ISP backbone.</p>",
        date="Tue, 24 Nov 2026 05:00:00 GMT",
        enclosure="https://media.unsized-podcast.example.net/001.mp3",
        enclosure_length=None,
    )
    body = rss(episode, title="Unsized Podcast")
    store_feed(store, screener, UNSIZED, body, NOW, store.start_run(NOW, os.getpid()))
    store.index_topics()
    out = tmp_path / "public"
    build_site(store, site, load_taxonomy(), out, NOW + timedelta(hours=1), search=False)
    return out


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load(("en",))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, screener: Screener) -> Path:
    return build(tmp_path_factory.mktemp("formats"), SITE, screener)


def rss_files(site: Path) -> list[Path]:
    found = sorted((site / "feeds").rglob("*.rss"))
    assert len(found) > 10 and any("podcasts" in p.parts for p in found)
    return found


def text(parent: ET.Element, tag: str) -> str:
    node = parent.find(tag)
    assert node is not None, f"<{parent.tag}> has no <{tag}>"
    return (node.text or "").strip()


def rfc822(value: str) -> datetime:
    assert RFC822.fullmatch(value), f"{value!r} is not an RFC 822 date in GMT"
    return parsedate_to_datetime(value)


def url_in_site(site: Path, url: str) -> Path:
    assert url.startswith(SITE.url), url
    return site / url.removeprefix(SITE.url)


def test_rss_root_is_plain_rss_2_with_a_prefixed_atom_self_link(site: Path) -> None:
    for path in rss_files(site):
        doc = read(path)
        assert doc.root.tag == "rss", f"{path}: the root is {doc.root.tag}"
        assert doc.root.get("version") == "2.0"
        assert "" not in doc.declared, f"{path}: <rss> declares a default namespace"
        assert doc.declared["atom"] == ATOM
        assert "<atom:link " in path.read_text(encoding="utf-8")
        channels = doc.root.findall("channel")
        assert len(channels) == 1
        self_links = channels[0].findall(f"{{{ATOM}}}link")
        assert [(a.get("rel"), a.get("type")) for a in self_links] == [("self", "application/rss+xml")]
        assert url_in_site(site, self_links[0].get("href", "")) == path
        # Apart from that link, nothing in an RSS feed is in the Atom namespace.
        assert [e for e in doc.root.iter() if e.tag.startswith(f"{{{ATOM}}}")] == self_links


def test_rss_channels_and_items_have_what_rss_2_requires(site: Path) -> None:
    for path in rss_files(site):
        channel = read(path).root.find("channel")
        assert channel is not None
        assert text(channel, "title").startswith("Test Planet")
        assert text(channel, "link").startswith(SITE.url)
        assert text(channel, "description")
        rfc822(text(channel, "lastBuildDate"))
        items = channel.findall("item")
        assert items or "podcasts" not in path.parts, path  # a topic with no posts yet: none
        for item in items:
            assert text(item, "title") or text(item, "description")
            guid = item.find("guid")
            assert guid is not None and guid.get("isPermaLink") == "false"
            assert (guid.text or "").startswith("urn:aggregator:post:")
            assert rfc822(text(item, "pubDate")) <= NOW
    everything = read(site / "feeds/all.rss").root
    # Per-entry source, topics and full content, as the site shows them.
    item = next(i for i in everything.iter("item") if text(i, "title").startswith("Dual-Stack Kubernetes"))
    source = item.find("source")
    assert source is not None and source.get("url", "").startswith("https://")
    assert [c.text for c in item.findall("category")] and item.find(f"{{{CONTENT}}}encoded") is not None
    # What a hostile feed put in a title comes back as the same text, escaped on the way:
    # once more in RSS, whose readers take a title as HTML.
    titles = [text(i, "title") for i in everything.iter("item")]
    assert 'BGP &lt;script&gt;alert("title")&lt;/script&gt; route leaks &amp; RFC 7908' in titles
    # A reader renders it as HTML (feedparser says text/html), and shows the same text.
    (entry,) = [
        e for e in feedparser.parse((site / "feeds/all.rss").read_bytes()).entries if "RFC 7908" in e.title
    ]
    assert entry.title_detail.type == "text/html"
    assert html.unescape(entry.title) == 'BGP <script>alert("title")</script> route leaks & RFC 7908'
    assert "<script" not in entry.title


def test_podcast_feeds_carry_what_podcast_directories_require(site: Path) -> None:
    podcasts = sorted((site / "feeds/podcasts").glob("*.rss"))
    assert podcasts
    for path in podcasts:
        doc = read(path)
        assert doc.declared["itunes"] == ITUNES
        channel = doc.root.find("channel")
        assert channel is not None
        assert text(channel, "title") and text(channel, "description") and text(channel, "language") == "en"
        assert text(channel, "link").startswith(SITE.url)
        image = channel.find(f"{{{ITUNES}}}image")
        assert image is not None and image.get("href") == "https://planet.example.net/static/podcast.png"
        assert text(channel, "image/url") == image.get("href")
        categories = channel.findall(f"{{{ITUNES}}}category")
        assert categories and all(c.get("text") in APPLE_CATEGORIES for c in categories)
        assert text(channel, f"{{{ITUNES}}}explicit") in ("true", "false")
        items = channel.findall("item")
        assert items, path
        for item in items:
            assert text(item, "title")
            assert text(item, "guid")
            rfc822(text(item, "pubDate"))
            enclosure = item.find("enclosure")
            assert enclosure is not None, f"{path}: an item without an enclosure"
            assert urlsplit(enclosure.get("url", "")).scheme in ("http", "https")
            assert enclosure.get("type", "").startswith(("audio/", "video/"))
            assert re.fullmatch(r"\d+", enclosure.get("length", "")), enclosure.attrib
    episodes = {text(i, "title"): i for i in read(site / "feeds/podcasts/all.rss").root.iter("item")}
    stated = episodes["OTW 025: Optics, Pluggables and the Road to 800G"].find("enclosure")
    assert stated is not None and stated.get("length") == "68577280"
    # The size the source did not state is written as 0, not left out.
    unsized = next(i for title, i in episodes.items() if title.startswith("Unsized 001"))
    enclosure = unsized.find("enclosure")
    assert enclosure is not None and enclosure.get("length") == "0"


def test_podcast_artwork_is_a_square_rgb_png_in_the_built_site(site: Path) -> None:
    channel = read(site / "feeds/podcasts/all.rss").root.find("channel")
    assert channel is not None
    image = channel.find(f"{{{ITUNES}}}image")
    assert image is not None
    data = url_in_site(site, image.get("href", "")).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < 100_000
    chunks: dict[bytes, bytes] = {}
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    # Apple: square, 1400 to 3000 pixels a side, RGB.
    assert width == height and 1400 <= width <= 3000
    assert (depth, colour) == (8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)


def test_owner_podcast_image_goes_into_every_podcast_feed(tmp_path: Path, screener: Screener) -> None:
    cover = "https://cdn.example.net/art/planet-cover.jpg"
    out = build(tmp_path, replace(SITE, podcast_image=cover), screener)
    for path in (out / "feeds/podcasts").glob("*.rss"):
        channel = read(path).root.find("channel")
        assert channel is not None
        image = channel.find(f"{{{ITUNES}}}image")
        assert image is not None and image.get("href") == cover
        assert text(channel, "image/url") == cover


def test_atom_feeds_keep_the_default_atom_namespace_and_required_elements(site: Path) -> None:
    paths = sorted((site / "feeds").glob("*.atom"))
    assert len(paths) > 5
    for path in paths:
        doc = read(path)
        assert doc.root.tag == f"{{{ATOM}}}feed"
        assert doc.declared == {"": ATOM}
        feed = doc.root
        assert text(feed, f"{{{ATOM}}}id").startswith(SITE.url)
        assert text(feed, f"{{{ATOM}}}title")
        assert RFC3339.fullmatch(text(feed, f"{{{ATOM}}}updated"))
        links = {link.get("rel"): link.get("href", "") for link in feed.findall(f"{{{ATOM}}}link")}
        assert url_in_site(site, links["self"]) == path
        entries = feed.findall(f"{{{ATOM}}}entry")
        assert entries or path.name != "all.atom"  # a topic with no posts yet: none
        for entry in entries:
            assert text(entry, f"{{{ATOM}}}id").startswith("urn:aggregator:post:")
            assert text(entry, f"{{{ATOM}}}title")
            assert RFC3339.fullmatch(text(entry, f"{{{ATOM}}}updated"))
            # The feed has no author of its own, so every entry needs one (RFC 4287).
            assert text(entry, f"{{{ATOM}}}author/{{{ATOM}}}name")
            assert text(entry, f"{{{ATOM}}}source/{{{ATOM}}}title")


def test_opml_lists_every_source_with_the_attributes_opml_2_requires(site: Path) -> None:
    doc = read(site / "feeds/sources.opml")
    assert doc.root.tag == "opml" and doc.declared == {}
    assert doc.root.get("version") == "2.0"
    assert text(doc.root, "head/title") == "Test Planet: sources"
    outlines = doc.root.findall("body/outline")
    urls = {o.get("xmlUrl") for o in outlines}
    assert {"https://packet-notes.example.net/feed.xml", UNSIZED} <= urls
    assert "Hostile <Feed>" in {o.get("text") for o in outlines}  # escaped, and back as it was
    for outline in outlines:
        assert outline.get("text") and outline.get("type") == "rss"
        assert urlsplit(outline.get("xmlUrl", "")).scheme == "https"


def test_an_atom_entry_without_a_link_still_has_content(tmp_path: Path, screener: Screener) -> None:
    # A feed item of a title only (no link, no text) is kept. RFC 4287 4.1.1.1 and
    # 4.1.2: an entry with no atom:content MUST have an atom:link rel="alternate", and
    # this one has nothing to link to, so it carries its content, empty as it is.
    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    title = "BGP route leaks and RPKI origin validation on routers with prefix filters"
    item = Item(title, guid="s1", link=None, body="")
    add_feed(store, screener, "https://status.example.net/feed.xml", "Status Notes", rss(item))
    out = tmp_path / "public"
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    found = 0
    for path in sorted((out / "feeds").glob("*.atom")):
        for entry in read(path).root.findall(f"{{{ATOM}}}entry"):
            alternate = [
                e for e in entry.findall(f"{{{ATOM}}}link") if e.get("rel", "alternate") == "alternate"
            ]
            content = entry.find(f"{{{ATOM}}}content")
            assert alternate or content is not None, f"{path.name}: {text(entry, f'{{{ATOM}}}title')}"
            found += text(entry, f"{{{ATOM}}}title") == title
    assert found >= 2  # in the river's feed and its topic's


BGP_BODY = (
    "<p>BGP route reflection in a provider network: where the reflectors sit, their cluster IDs, "
    "and why the iBGP sessions to them stay up when a core link fails.</p>"
)


def _rss_item(title: str, guid: str, link: str, date: str, extra: str = "") -> str:
    return (
        f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid><link>{link}</link>"
        f"<pubDate>{date}</pubDate>{extra}<description><![CDATA[{BGP_BODY}]]></description></item>"
    )


def _rss_doc(*items: str) -> bytes:
    head = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>F</title><link>https://f.example.net/</link>"
    )
    return (head + "".join(items) + "</channel></rss>").encode()


def _atom_ids(out: Path) -> list[str]:
    return [text(e, f"{{{ATOM}}}id") for e in read(out / "feeds/all.atom").root.findall(f"{{{ATOM}}}entry")]


def test_a_story_keeps_its_entry_id_when_another_feed_carries_it_later(
    tmp_path: Path, screener: Screener
) -> None:
    # A reader that dedupes by id showed the story twice: its id was the copy shown, and
    # a second feed's copy (earlier dated, or from the link's own site) took over.
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    story = "Route reflector design for BGP"
    team = _rss_item(story, "t1", "https://member.example.org/rr", "Fri, 20 Nov 2026 08:00:00 GMT")
    add_feed(store, screener, "https://team.example.com/feed.xml", "Team", _rss_doc(team))
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    before = _atom_ids(out)
    own = _rss_item(story, "m1", "https://member.example.org/rr", "Wed, 18 Nov 2026 08:00:00 GMT")
    later = NOW + timedelta(hours=1)
    add_feed(store, screener, "https://member.example.org/feed.xml", "Member", _rss_doc(own), when=later)
    build_site(store, SITE, load_taxonomy(), out, later, search=False)
    assert _atom_ids(out) == before
    rss_guids = [g.text for g in read(out / "feeds/all.rss").root.iter("guid")]
    json_ids = [i["id"] for i in json.loads((out / "feeds/all.json").read_text())["items"]]
    assert rss_guids == json_ids == before


def test_feed_dates_follow_the_newest_date_an_entry_shows(tmp_path: Path, screener: Screener) -> None:
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    # A scheduled post updated before it was published: the feed's date lagged its entry.
    entry = (
        "<entry><title>BGP route reflection note {0}</title><id>urn:e{0}</id>"
        "<link href='https://b.example.net/{0}'/><published>{1}</published><updated>{2}</updated>"
        f"<content type='html'><![CDATA[{BGP_BODY}]]></content></entry>"
    )
    doc = (
        "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>x</title><id>urn:x</id>"
        "<updated>2026-11-20T08:00:00Z</updated>"
        + entry.format(1, "2026-11-20T08:00:00Z", "2026-11-10T08:00:00Z")
        + entry.format(2, "2026-11-15T08:00:00Z", "2026-11-15T08:00:00Z")
        + "</feed>"
    )
    add_feed(store, screener, "https://b.example.net/feed.xml", "Scheduled", doc.encode())
    # An episode whose signed audio URL rotates on every fetch: nobody edited it, and its
    # dates (and so the feeds' bytes) must not move each run.
    url = "https://e.example.net/feed.xml"
    audio = "<enclosure url='https://cdn.example.net/1.mp3?sig={}' length='99' type='audio/mpeg'/>"
    first = _rss_item(
        "BGP design episode", "g1", "https://e.example.net/1", "Thu, 12 Nov 2026 08:00:00 GMT", audio
    )
    add_feed(store, screener, url, "Rotating", _rss_doc(first.format("aaa")))
    later = NOW + timedelta(hours=2)
    add_feed(store, screener, url, "Rotating", _rss_doc(first.format("bbb")), when=later)
    build_site(store, SITE, load_taxonomy(), out, later, search=False)
    feed = read(out / "feeds/bgp.atom").root
    dates = {
        text(e, f"{{{ATOM}}}title"): (text(e, f"{{{ATOM}}}published"), text(e, f"{{{ATOM}}}updated"))
        for e in feed.findall(f"{{{ATOM}}}entry")
    }
    assert dates["BGP route reflection note 1"] == ("2026-11-20T08:00:00Z", "2026-11-20T08:00:00Z")
    assert dates["BGP design episode"] == ("2026-11-12T08:00:00Z", "2026-11-12T08:00:00Z")
    assert text(feed, f"{{{ATOM}}}updated") == "2026-11-20T08:00:00Z"  # the newest entry's
    items = {i["title"]: i for i in json.loads((out / "feeds/bgp.json").read_text())["items"]}
    assert items["BGP route reflection note 1"]["date_modified"] == "2026-11-20T08:00:00Z"
    assert items["BGP design episode"]["attachments"][0]["url"] == "https://cdn.example.net/1.mp3?sig=bbb"


def test_an_empty_topic_feed_keeps_its_bytes_when_other_topics_get_posts(
    tmp_path: Path, screener: Screener
) -> None:
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    old = _rss_item(
        "BGP route reflection note", "g1", "https://b.example.net/1", "Fri, 20 Nov 2026 08:00:00 GMT"
    )
    add_feed(store, screener, "https://b.example.net/feed.xml", "B", _rss_doc(old))
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    before = (out / "feeds/wireless.atom").read_bytes(), (out / "feeds/wireless.rss").read_bytes()
    assert b"<entry>" not in before[0]
    later = NOW + timedelta(days=1)
    new = _rss_item("OSPF area design note", "g2", "https://b.example.net/2", "Thu, 26 Nov 2026 05:00:00 GMT")
    add_feed(store, screener, "https://b.example.net/feed.xml", "B", _rss_doc(old, new), when=later)
    build_site(store, SITE, load_taxonomy(), out, later, search=False)
    assert "OSPF area design note" in (out / "feeds/all.atom").read_text()
    assert ((out / "feeds/wireless.atom").read_bytes(), (out / "feeds/wireless.rss").read_bytes()) == before


def test_an_episode_is_published_with_its_audio_url_whole_and_a_type_apps_play(
    tmp_path: Path, screener: Screener
) -> None:
    # A signed CDN URL's signature covers its whole query: with utm_* taken out it gave 403.
    # An octet-stream type is taken as audio, and published as the file name says.
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    audio = "https://cdn.example.net/ep1.m4a?utm_source=rss&amp;Expires=1900000000&amp;Signature=abc#t=10"
    enclosure = f"<enclosure url='{audio}' length='1234' type='application/octet-stream'/>"
    hostile = (
        "<enclosure url='https://cdn.example.net/ep2.mp3' length='99' type='audio/mpeg&quot; x=&quot;1'/>"
    )
    episodes = [
        _rss_item(
            "BGP route reflection episode",
            "e1",
            "https://pod.example.net/1",
            "Fri, 20 Nov 2026 08:00:00 GMT",
            enclosure,
        ),
        _rss_item(
            "BGP confederations episode",
            "e2",
            "https://pod.example.net/2",
            "Sat, 21 Nov 2026 08:00:00 GMT",
            hostile,
        ),
    ]
    add_feed(
        store, screener, "https://pod.example.net/feed.xml", "Pod", _rss_doc(*episodes), kind=FeedKind.PODCAST
    )
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    whole = audio.replace("&amp;", "&")
    attachments = {
        i["title"]: i["attachments"][0] for i in json.loads((out / "feeds/all.json").read_text())["items"]
    }
    assert attachments["BGP route reflection episode"] == {
        "url": whole,
        "mime_type": "audio/mp4",
        "size_in_bytes": 1234,
    }
    assert attachments["BGP confederations episode"]["mime_type"] == "audio/mpeg"
    enclosures = {
        e.get("url"): e.get("type") for e in read(out / "feeds/podcasts/all.rss").root.iter("enclosure")
    }
    assert enclosures == {whole: "audio/mp4", "https://cdn.example.net/ep2.mp3": "audio/mpeg"}


def test_the_podcast_feeds_are_linked_from_their_pages_under_the_shows_name(
    tmp_path: Path, screener: Screener
) -> None:
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    episode = "<enclosure url='https://cdn.example.net/1.mp3' length='1234' type='audio/mpeg'/>"
    item = _rss_item(
        "BGP route reflection episode",
        "e1",
        "https://pod.example.net/1",
        "Fri, 20 Nov 2026 08:00:00 GMT",
        episode,
    )
    add_feed(
        store, screener, "https://pod.example.net/feed.xml", "Pod", _rss_doc(item), kind=FeedKind.PODCAST
    )
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    river = (out / "index.html").read_text()
    assert '<a href="feeds/podcasts/all.rss">Podcast episodes</a>' in river
    feed_link = 'title="Latest posts: podcast episodes (RSS)" href="feeds/podcasts/all.rss"'
    assert f'<link rel="alternate" type="application/rss+xml" {feed_link}>' in river
    assert (
        '<a href="../../feeds/podcasts/bgp.rss">Podcast episodes</a>'
        in (out / "topics/bgp/index.html").read_text()
    )
    assert "Podcast episodes" not in (out / "topics/wireless/index.html").read_text()
    channel = read(out / "feeds/podcasts/all.rss").root.find("channel")
    assert channel is not None and text(channel, "title") == "Test Planet: podcast episodes"


def test_the_podcast_feeds_carry_each_episodes_rating_as_its_show_gives_it(
    tmp_path: Path, screener: Screener
) -> None:
    # Every episode was published as clean: feedparser read only "yes", and nothing kept it.
    store, out = Store(tmp_path / "site.db"), tmp_path / "public"
    audio = "<enclosure url='https://cdn.example.net/{0}.mp3' length='99' type='audio/mpeg'/>"
    rated = [("true", "Rated true"), ("yes", "Rated yes"), ("clean", "Rated clean"), ("", "Not rated")]
    items = [
        _rss_item(
            f"BGP episode: {title}",
            f"e{i}",
            f"https://pod.example.net/{i}",
            f"Fri, {20 - i} Nov 2026 08:00:00 GMT",
            audio.format(i) + (f"<itunes:explicit>{value}</itunes:explicit>" if value else ""),
        )
        for i, (value, title) in enumerate(rated)
    ]
    document = _rss_doc(*items).replace(
        b"<rss version='2.0'>",
        b"<rss version='2.0' xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>",
    )
    add_feed(store, screener, "https://pod.example.net/feed.xml", "Pod", document, kind=FeedKind.PODCAST)
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    channel = read(out / "feeds/podcasts/all.rss").root.find("channel")
    assert channel is not None and text(channel, f"{{{ITUNES}}}explicit") == "true"
    ratings = {
        text(item, "title"): (
            item.find(f"{{{ITUNES}}}explicit").text
            if item.find(f"{{{ITUNES}}}explicit") is not None
            else None
        )
        for item in channel.findall("item")
    }
    assert ratings == {
        "BGP episode: Rated true": "true",
        "BGP episode: Rated yes": "true",
        "BGP episode: Rated clean": "false",
        "BGP episode: Not rated": None,
    }


def test_both_entry_readers_read_an_episodes_rating_alike() -> None:
    from aggregator.parse import read_feed

    url = "https://pod.example.net/feed.xml"
    headers = {"content-type": "application/rss+xml", "content-location": url}
    values = ["true", "True", "yes", "explicit", "false", "no", "clean", "maybe", ""]
    items = "".join(
        f"<item><title>Episode {i}</title><guid>g{i}</guid><itunes:duration>60</itunes:duration>"
        f"<itunes:explicit>{value}</itunes:explicit></item>"
        for i, value in enumerate(values)
    )
    document = (
        "<?xml version='1.0'?><rss version='2.0' xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>"
        f"<channel><title>Pod</title>{items}</channel></rss>"
    ).encode()
    fast, _ = read_feed(url, document, headers, NOW)
    slow, _ = read_feed(url, document, headers, NOW, fast=False)
    assert fast == slow
    assert [e.podcast.explicit if e.podcast else None for e in fast.entries] == [
        True, True, True, True, False, False, False, None, None,
    ]  # fmt: skip


def test_a_show_rated_on_its_channel_rates_its_unrated_episodes() -> None:
    # Many shows rate only the channel: their episodes were published as clean.
    from aggregator.parse import read_feed

    url = "https://pod.example.net/feed.xml"
    document = (
        b"<?xml version='1.0'?><rss version='2.0' xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>"
        b"<channel><title>Pod</title><itunes:explicit>true</itunes:explicit>"
        b"<item><title>E1</title><guid>g1</guid><enclosure url='https://c.example.net/1.mp3' length='1' "
        b"type='audio/mpeg'/></item>"
        b"<item><title>E2</title><guid>g2</guid><itunes:explicit>clean</itunes:explicit>"
        b"<enclosure url='https://c.example.net/2.mp3' length='1' type='audio/mpeg'/></item>"
        b"<item><title>A post</title><guid>g3</guid></item></channel></rss>"
    )
    for fast in (True, False):
        feed, _ = read_feed(url, document, {"content-type": "application/rss+xml"}, NOW, fast=fast)
        assert [e.podcast.explicit if e.podcast else None for e in feed.entries] == [True, False, None]


def test_a_show_that_re_rates_an_episode_is_followed(tmp_path: Path, screener: Screener) -> None:
    # The rating is left out of the content hash (episodes stored before ratings were
    # kept are not changed posts), so a new rating alone was never stored.
    store = Store(tmp_path / "site.db")
    url = "https://pod.example.net/feed.xml"
    head = (
        b"<?xml version='1.0'?><rss version='2.0' xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>"
    )
    item = (
        "<channel><title>Pod</title><item><title>BGP episode</title><guid>g1</guid>"
        "<itunes:explicit>{}</itunes:explicit><enclosure url='https://c.example.net/1.mp3' length='1' "
        "type='audio/mpeg'/><description>BGP route reflection</description></item></channel></rss>"
    )
    add_feed(store, screener, url, "Pod", head + item.format("false").encode(), kind=FeedKind.PODCAST)
    assert store.db.execute("SELECT explicit FROM posts").fetchall() == [(0,)]
    later = NOW + timedelta(hours=1)
    add_feed(
        store, screener, url, "Pod", head + item.format("true").encode(), when=later, kind=FeedKind.PODCAST
    )
    assert store.db.execute("SELECT explicit, last_changed FROM posts").fetchall() == [
        (1, NOW.isoformat(timespec="seconds"))  # re-rated, not a changed post
    ]
    # The rating withdrawn: unknown again (the show's rating, if any, stands).
    unrated = (head + item.format("").encode()).replace(b"<itunes:explicit></itunes:explicit>", b"")
    add_feed(store, screener, url, "Pod", unrated, when=later + timedelta(hours=1), kind=FeedKind.PODCAST)
    assert store.db.execute("SELECT explicit FROM posts").fetchall() == [(None,)]
