"""The feeds we publish: Atom 1.0, RSS 2.0, JSON Feed 1.1, podcast RSS, and OPML.

Built with ElementTree and json, never by pasting strings, so every text is escaped;
characters XML 1.0 forbids are removed first. Content is the sanitized HTML the store
holds (nh3, allow-list), and every link has been through clean_link (http and https only).
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urljoin

from .model import Episode, Post, SiteData, Source

ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
XML = "http://www.w3.org/XML/1998/namespace"
PODCAST = "https://podcastindex.org/namespace/1.0"
# Prefixes for the foreign elements inside RSS. Atom is never registered as the default
# namespace: that would put <rss> itself in the Atom namespace for every namespace-aware
# reader. The Atom feed declares its default namespace on its own root.
ET.register_namespace("atom", ATOM)
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("content", CONTENT)
ET.register_namespace("podcast", PODCAST)

FEED_ENTRIES = 50  # newest posts in each feed
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


@dataclass(frozen=True)
class FeedSpec:
    """One feed: which posts, and where it lives (paths relative to the site root)."""

    title: str
    page: str  # the HTML page with the same posts, such as topics/bgp/
    stem: str  # feeds/bgp -> feeds/bgp.atom, .rss, .json
    posts: tuple[Post, ...]


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    # text is positional-only, so an attribute may be named text (OPML's outline,
    # itunes:category) and still land in attrs.
    node = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        node.text = xml_text(text)
    return node


def _serialize(root: ET.Element) -> str:
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _enclosure_length(episode: Episode) -> str:
    # RSS 2.0 makes length required. When the source feed did not state the size we do
    # not guess it (that would mean fetching the audio): 0, the value the RSS Best
    # Practices Profile gives for an unknown size.
    return str(episode.length or 0)


def podcast_image(site: SiteData) -> str:
    """The absolute URL of the podcast feeds' square artwork (site.podcast_image)."""
    return urljoin(site.config.url, site.config.podcast_image)


def _updated(spec: FeedSpec, site: SiteData) -> datetime:
    # The newest post's date, not the build time: a feed whose posts did not change
    # stays byte for byte the same. An empty feed takes the site's oldest post's date,
    # which new posts elsewhere do not move.
    newest = [p.modified for p in spec.posts]
    return max(newest) if newest else (site.posts[-1].published if site.posts else site.built)


def _content(post: Post, contents: Mapping[str, tuple[str, str]]) -> str:
    content, summary = contents.get(post.id, ("", ""))
    return content or summary


def atom(spec: FeedSpec, site: SiteData, contents: Mapping[str, tuple[str, str]]) -> str:
    base = site.config.url
    # Atom is the default namespace here, declared as an attribute: its elements are
    # written unqualified under it (ET's default_namespace option refuses the plain
    # attribute names Atom uses).
    attrs = {"xmlns": ATOM}
    if site.config.language:  # one language for every entry (languages: [de])
        attrs[f"{{{XML}}}lang"] = site.config.language
    feed = ET.Element("feed", attrs)
    _sub(feed, "id", urljoin(base, spec.stem + ".atom"))
    _sub(feed, "title", spec.title)
    _sub(feed, "subtitle", site.config.description)
    _sub(feed, "updated", _iso(_updated(spec, site)))
    _sub(
        feed,
        "link",
        rel="self",
        type="application/atom+xml",
        href=urljoin(base, spec.stem + ".atom"),
    )
    _sub(feed, "link", rel="alternate", type="text/html", href=urljoin(base, spec.page))
    _sub(feed, "generator", "aggregator")
    for post in spec.posts:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:aggregator:post:{post.feed_id}")
        _sub(entry, "title", post.title)
        if post.link:
            _sub(entry, "link", rel="alternate", type="text/html", href=post.link)
        if post.episode:
            attrs = {"rel": "enclosure", "type": post.episode.audio_type, "href": post.episode.audio_url}
            if post.episode.length:
                attrs["length"] = str(post.episode.length)
            _sub(entry, "link", **attrs)
        _sub(entry, "published", _iso(post.published))
        _sub(entry, "updated", _iso(post.modified))
        for name in post.authors or (post.source,):  # RFC 4287: one atom:author each
            _sub(_sub(entry, "author"), "name", name)
        source = _sub(entry, "source")
        _sub(source, "title", post.source)
        _sub(source, "link", rel="self", href=post.public_feed_url)
        for topic in post.topic_names:
            _sub(entry, "category", term=topic)
        _sub(entry, "summary", post.excerpt, type="text")
        body = _content(post, contents)
        if body:
            _sub(entry, "content", body, type="html")
        elif not post.link:
            # RFC 4287 4.1.2: an entry with no atom:content must have an alternate link;
            # this one has neither (a title-only item), so its content is its text.
            _sub(entry, "content", post.excerpt, type="text")
    return _serialize(feed)


def rss(spec: FeedSpec, site: SiteData, contents: Mapping[str, tuple[str, str]]) -> str:
    base = site.config.url
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", spec.title)
    _sub(channel, "link", urljoin(base, spec.page))
    _sub(channel, "description", site.config.description)
    if site.config.language:
        _sub(channel, "language", site.config.language)
    _sub(
        channel,
        f"{{{ATOM}}}link",
        rel="self",
        type="application/rss+xml",
        href=urljoin(base, spec.stem + ".rss"),
    )
    _sub(channel, "lastBuildDate", format_datetime(_updated(spec, site), usegmt=True))
    _sub(channel, "generator", "aggregator")
    for post in spec.posts:
        item = _sub(channel, "item")
        _sub(item, "title", _rss_title(post.title))
        if post.link:
            _sub(item, "link", post.link)
        _sub(item, "guid", f"urn:aggregator:post:{post.feed_id}", isPermaLink="false")
        _sub(item, "pubDate", format_datetime(post.published, usegmt=True))
        _sub(item, "source", post.source, url=post.public_feed_url)
        for topic in post.topic_names:
            _sub(item, "category", topic)
        # RSS readers take a description as HTML: the excerpt, plain text, is escaped as
        # such, or text a post quotes ("&lt;script&gt;") would become markup in them.
        _sub(item, "description", html.escape(post.excerpt, quote=False))
        body = _content(post, contents)
        if body:
            _sub(item, f"{{{CONTENT}}}encoded", body)
        if post.episode:
            _sub(
                item,
                "enclosure",
                url=post.episode.audio_url,
                type=post.episode.audio_type,
                length=_enclosure_length(post.episode),
            )
    return _serialize(root)


def _rss_title(title: str) -> str:
    """An item's title for RSS. Readers take an RSS title as HTML when it looks like some
    (feedparser does): a title that quotes a tag ("EVPN <i>multihoming</i>", as text) or
    an entity ("&lt;ospf&gt;", as text) is escaped as the description is, or it would
    turn into markup there."""
    looks_like_markup = "<" in title or _ENTITY.search(title) is not None  # as feedparser judges
    return html.escape(title, quote=False) if looks_like_markup else title


_ENTITY = re.compile(r"&#?\w+;")


def json_feed(spec: FeedSpec, site: SiteData, contents: Mapping[str, tuple[str, str]]) -> str:
    base = site.config.url
    items = []
    for post in spec.posts:
        item: dict[str, object] = {
            "id": f"urn:aggregator:post:{post.feed_id}",
            "title": post.title,
            "summary": post.excerpt,
            "date_published": _iso(post.published),
            "date_modified": _iso(post.modified),
            "authors": [{"name": name} for name in post.authors] or [{"name": post.source}],
            "tags": list(post.topic_names),
        }
        if post.link:
            item["url"] = post.link
        body = _content(post, contents)
        item["content_html" if body else "content_text"] = body or post.excerpt
        if post.episode:
            attachment: dict[str, object] = {
                "url": post.episode.audio_url,
                "mime_type": post.episode.audio_type,
            }
            if post.episode.length:
                attachment["size_in_bytes"] = post.episode.length
            if post.episode.duration:
                attachment["duration_in_seconds"] = post.episode.duration
            item["attachments"] = [attachment]
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": urljoin(base, spec.page),
        "feed_url": urljoin(base, spec.stem + ".json"),
        "description": site.config.description,
        "items": items,
    }
    if site.config.language:
        document["language"] = site.config.language
    # <, > and & as \u escapes: the same JSON values, and no markup-looking text even
    # for a reader that wrongly pastes a plain-text field into a page.
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") + "\n"


def podcast_rss(spec: FeedSpec, site: SiteData, contents: Mapping[str, tuple[str, str]]) -> str:
    """An RSS feed of episodes with enclosures and the tags podcast directories require
    (Apple Podcasts, Podcast Index, Spotify): artwork, category, explicit, language."""
    base = site.config.url
    artwork = podcast_image(site)
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", spec.title)
    _sub(channel, "link", urljoin(base, spec.page))
    _sub(channel, "description", site.config.description)
    # Podcast directories require a language: the site's, else English (the interface's).
    _sub(channel, "language", site.config.language or "en")
    image = _sub(channel, "image")  # RSS 2.0's own artwork, for apps that skip itunes:image
    _sub(image, "url", artwork)
    _sub(image, "title", spec.title)
    _sub(image, "link", urljoin(base, spec.page))
    _sub(
        channel,
        f"{{{ATOM}}}link",
        rel="self",
        type="application/rss+xml",
        href=urljoin(base, spec.stem + ".rss"),
    )
    _sub(channel, f"{{{ITUNES}}}author", site.config.title)
    _sub(channel, f"{{{ITUNES}}}summary", site.config.description)
    _sub(channel, f"{{{ITUNES}}}image", href=artwork)
    # The show is explicit when an episode in it is (as its own feed rates it).
    explicit = any(p.episode is not None and p.episode.explicit for p in spec.posts)
    _sub(channel, f"{{{ITUNES}}}explicit", "true" if explicit else "false")
    _sub(channel, f"{{{ITUNES}}}category", text="Technology")  # a category on Apple's list
    _sub(channel, "lastBuildDate", format_datetime(_updated(spec, site), usegmt=True))
    for post in spec.posts:
        episode = post.episode
        if episode is None:
            continue
        item = _sub(channel, "item")
        _sub(item, "title", _rss_title(post.title))
        if post.link:
            _sub(item, "link", post.link)
        _sub(item, "guid", f"urn:aggregator:post:{post.feed_id}", isPermaLink="false")
        _sub(item, "pubDate", format_datetime(post.published, usegmt=True))
        _sub(item, "description", html.escape(post.excerpt, quote=False))
        length = _enclosure_length(episode)
        _sub(item, "enclosure", url=episode.audio_url, type=episode.audio_type, length=length)
        _sub(item, f"{{{ITUNES}}}author", post.source)
        _sub(item, f"{{{ITUNES}}}summary", post.excerpt)
        if episode.duration:
            _sub(item, f"{{{ITUNES}}}duration", str(episode.duration))
        if episode.number is not None:
            _sub(item, f"{{{ITUNES}}}episode", str(episode.number))
        if episode.season is not None:
            _sub(item, f"{{{ITUNES}}}season", str(episode.season))
        if episode.image:
            _sub(item, f"{{{ITUNES}}}image", href=episode.image)
        if episode.explicit is not None:  # unrated: the show's rating stands
            _sub(item, f"{{{ITUNES}}}explicit", "true" if episode.explicit else "false")
    return _serialize(root)


def opml(sources: Sequence[Source], site: SiteData) -> str:
    root = ET.Element("opml", {"version": "2.0"})
    head = _sub(root, "head")
    _sub(head, "title", f"{site.config.title}: sources")
    body = _sub(root, "body")
    for source in sources:
        attrs = {"type": "rss", "text": source.name, "title": source.name, "xmlUrl": source.public_url}
        if source.link:
            attrs["htmlUrl"] = source.link
        if source.topics:
            # OPML 2.0's category: comma-separated, and a name without a slash is a tag.
            attrs["category"] = ",".join(source.topics)
        _sub(body, "outline", **attrs)
    return _serialize(root)
