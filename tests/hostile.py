"""Hostile feed documents: the entity-expansion shapes and markup built to exhaust a parser.

Shared by tests/test_hostile.py and bench/hostile_bench.py. Each shape is an RSS 2.0
document of about `size` bytes; `origin` is the loopback server's URL, where the shapes
that point at external resources point (the tests check that nothing fetches them).
"""

from __future__ import annotations

from collections.abc import Callable

HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n'
# Paths the external shapes point at: the server must never see a request for them.
EXTERNAL_PATHS = ("/secret.txt", "/evil.dtd", "/param.dtd")


def _rss(items: bytes, prolog: bytes = b"") -> bytes:
    return (
        HEAD
        + prolog
        + b"<rss version='2.0'><channel><title>Hostile</title><link>https://hostile.example/</link>"
        + b"<description>d</description>"
        + items
        + b"</channel></rss>\n"
    )


def _item(body: bytes, title: bytes = b"Hostile post") -> bytes:
    return (
        b"<item><guid>h-1</guid><title>" + title + b"</title><description>" + body + b"</description></item>"
    )


def billion_laughs(size: int, origin: str) -> bytes:
    """Ten entities, each ten of the one before: 10^9 copies of "lol" from 1 KB."""
    declarations = b'<!ENTITY lol0 "lol">\n' + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10)
    )
    return _rss(_item(b"&lol9;"), b"<!DOCTYPE rss [\n" + declarations + b"]>\n")


def quadratic_blowup(size: int, origin: str) -> bytes:
    """One entity of 270 characters referenced over and over: each 3-byte reference would
    become 270 characters, 90 times the document, below expat's own amplification limit."""
    references = b"&a;" * ((size - 1000) // 3)
    return _rss(_item(references), b'<!DOCTYPE rss [\n<!ENTITY a "' + b"x" * 270 + b'">\n]>\n')


def external_entity(size: int, origin: str) -> bytes:
    """An entity whose text is another URL's body (a server-side request, or a local file)."""
    prolog = b'<!DOCTYPE rss [\n<!ENTITY ext SYSTEM "' + origin.encode() + b'/secret.txt">\n]>\n'
    return _rss(_item(b"before &ext; after", title=b"&ext;"), prolog)


def external_dtd(size: int, origin: str) -> bytes:
    """A DOCTYPE naming a DTD to retrieve from a URL."""
    return _rss(_item(b"an ordinary post"), b'<!DOCTYPE rss SYSTEM "' + origin.encode() + b'/evil.dtd">\n')


def parameter_entity(size: int, origin: str) -> bytes:
    """A parameter entity that pulls declarations from a URL into the DTD."""
    prolog = (
        b'<!DOCTYPE rss [\n<!ENTITY % remote SYSTEM "' + origin.encode() + b'/param.dtd">\n%remote;\n]>\n'
    )
    return _rss(_item(b"an ordinary post"), prolog)


def _nested(depth: int) -> bytes:
    return b"<x>" + b"<a>" * depth + b"</a>" * depth + b"</x>"


def nested_elements(size: int, origin: str) -> bytes:
    """Elements nested hundreds of thousands deep inside an item."""
    return _rss(b"<item><guid>h-1</guid><title>t</title>" + _nested((size - 400) // 7) + b"</item>")


def nested_in_channel(size: int, origin: str) -> bytes:
    """Elements nested hundreds of thousands deep beside the items of a plain RSS 2.0
    channel, where the fast entry reader (aggregator/fastfeed.py) walks them."""
    return _rss(_item(b"an ordinary post") + _nested((size - 500) // 7))


def entry_flood(size: int, origin: str) -> bytes:
    """Hundreds of thousands of tiny items."""
    count = (size - 400) // 54  # an item is 48 to 54 bytes
    return _rss(b"".join(b"<item><guid>f-%d</guid><title>Flood</title></item>" % i for i in range(count)))


def attribute_flood(size: int, origin: str) -> bytes:
    """One element with a million attributes (expat holds the whole start tag first)."""
    count = (size - 400) // 13
    attributes = b" ".join(b"a%07d='x'" % i for i in range(count))
    return _rss(b"<item " + attributes + b"><guid>h-1</guid><title>t</title></item>")


def deep_html(size: int, origin: str) -> bytes:
    """Escaped HTML nested a million deep: an HTML parser that walks its stack of open
    elements for every tag spends the square of the depth."""
    depth = (size - 400) // 11
    return _rss(_item(b"&lt;div&gt;" * depth))


def reference_flood(size: int, origin: str) -> bytes:
    """Escaped HTML of nothing but character references, in one text node."""
    return _rss(_item(b"&amp;amp;" * ((size - 400) // 9)))


SHAPES: dict[str, Callable[[int, str], bytes]] = {
    "billion-laughs": billion_laughs,
    "quadratic-blowup": quadratic_blowup,
    "external-entity": external_entity,
    "external-dtd": external_dtd,
    "parameter-entity": parameter_entity,
    "nested-elements": nested_elements,
    "nested-in-channel": nested_in_channel,
    "entry-flood": entry_flood,
    "attribute-flood": attribute_flood,
    "deep-html": deep_html,
    "reference-flood": reference_flood,
}
# The entity-expansion shapes, as the issue names them.
EXPANSION = ("billion-laughs", "quadratic-blowup", "external-entity", "external-dtd", "parameter-entity")
