"""Build small RSS documents for tests that change a feed between fetches."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    guid: str | None = None
    link: str | None = None
    date: str | None = "Mon, 16 Nov 2026 08:00:00 GMT"
    body: str = "<p>Notes on route reflection.</p>"
    enclosure: str | None = None
    enclosure_length: int | None = 1000  # None: the enclosure states no length


def rss(*items: Item, title: str = "Test Feed") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{escape(title)}</title><link>https://blog.example.net/</link>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.date:
            parts.append(f"<pubDate>{item.date}</pubDate>")
        if item.enclosure:
            length = "" if item.enclosure_length is None else f' length="{item.enclosure_length}"'
            parts.append(f'<enclosure url="{escape(item.enclosure)}"{length} type="audio/mpeg"/>')
        parts.append(f"<content:encoded><![CDATA[{item.body}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()
