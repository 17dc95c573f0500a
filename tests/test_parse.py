"""Parsing: typed records out, hostile content neutralised, dates and URLs made sane."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from conftest import fixture_bytes
from feedgen import Item, rss
from feedparser.util import FeedParserDict

from aggregator.errors import ParseError
from aggregator.parse import parse_duration, parse_feed
from aggregator.store import Store
from aggregator.types import FeedConfig, FeedKind, FetchResult, Outcome

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def parse(name: str, url: str = "https://feeds.example.net/feed.xml"):
    return parse_feed(url, fixture_bytes(name), {"content-type": "application/rss+xml"}, NOW)


def test_rss2_fields_dates_and_relative_urls() -> None:
    feed = parse("rss2.xml", "https://rss2.example.net/feed.xml")
    assert feed.title == "Packet Path Notes"
    first, second, third = feed.entries
    assert first.guid == "rss2-001"
    assert first.title == "Tuning BGP timers on eBGP sessions"
    assert first.authors == ("Ana Novak",)
    assert first.published == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)  # +0100 -> UTC
    assert 'href="https://rss2.example.net/posts/bfd/"' in first.content_html
    assert 'src="https://rss2.example.net/img/timers.png"' in first.content_html
    assert "<pre><code>" in first.content_html
    # Tracking parameters go, the parameter that names the page stays.
    assert second.link == "https://rss2.example.net/posts/ospf-stub/?id=7"
    assert third.guid is None and third.link is None and third.title == "Weekly lab notes"


def test_rss1_and_atom() -> None:
    rdf = parse("rss1.rdf")
    assert len(rdf.entries) == 2
    assert all(e.updated is not None and e.authors for e in rdf.entries)
    atom = parse("atom.xml")
    first = atom.entries[0]
    # Relative alternate link resolved against xml:base.
    assert first.link == "https://atom.example.org/blog/2026/11/gateway-api/"
    # An HTML title becomes plain text.
    assert first.title == "Moving from Ingress to Gateway API"
    assert first.content_html.startswith("<p>")


def test_podcast_duration_episode_and_chapters() -> None:
    feed = parse("podcast.xml")
    ep12, ep13 = feed.entries
    assert ep12.enclosures[0].url == "https://media.example.net/ep12.mp3"
    assert ep12.enclosures[0].length == 48213000
    assert ep12.enclosures[0].type == "audio/mpeg"
    assert ep12.podcast is not None and ep12.podcast.duration == 3723
    assert ep12.podcast.episode == 12
    assert [(c.start, c.title) for c in ep12.podcast.chapters] == [
        (0.0, "Intro"),
        (330.0, "PIM sparse mode"),
        (2470.5, "Listener questions"),
    ]
    assert ep13.podcast is not None and ep13.podcast.duration == 2917
    assert ep13.podcast.chapters_url == "https://media.example.net/ep13.chapters.json"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1:02:03", 3723),
        ("48:05", 2885),
        ("62:03", 3723),
        ("2917", 2917),
        ("2917.6", 2918),
        ("01:02:03.500", 3724),
        ("", None),
        ("abc", None),
        ("-5", None),
        ("NaN", None),
        ("inf", None),
        ("1e400", None),
        ("99999999999999999999999", None),
    ],
)
def test_duration_formats(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


def test_one_episode_with_numbers_out_of_range_costs_only_those_numbers(tmp_path: Path) -> None:
    # One item's NaN duration failed the whole feed's parse, and a 23-digit duration or
    # episode number failed storing it ("could not store: OverflowError"), every run.
    items = "".join(
        f"<item><title>Episode {i}</title><guid>ep{i}</guid>"
        f'<enclosure url="https://media.example.net/{i}.mp3" type="audio/mpeg" length="1000"/>'
        f"<itunes:duration>{duration}</itunes:duration><itunes:episode>{number}</itunes:episode></item>"
        for i, duration, number in (
            (1, "1:02:03", "1"),
            (2, "NaN", "2"),
            (3, "99999999999999999999999", "3"),
            (4, "600", "99999999999999999999999"),
        )
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>Pod</title><link>https://pod.example.net/</link>{items}</channel></rss>"
    ).encode()
    url = "https://pod.example.net/feed.xml"
    feed = parse_feed(url, body, {}, NOW)
    assert [(e.podcast.duration, e.podcast.episode) for e in feed.entries if e.podcast] == [
        (3723, 1),
        (None, 2),
        (None, 3),
        (600, None),
    ]
    with Store(tmp_path / "a.db") as store:
        store.sync_feeds([FeedConfig(url=url, name="Pod", kind=FeedKind.PODCAST)], NOW)
        run = store.start_run(NOW, 1)
        fetched = FetchResult(url=url, status=200, body=body, outcome=Outcome.OK)
        outcome = store.record(run, fetched, feed, NOW)
        assert outcome.outcome is Outcome.OK and outcome.new == 4


def test_hostile_markup_never_survives() -> None:
    entry = parse("hostile.xml").entries[0]
    html = entry.content_html + entry.summary_html
    for bad in (
        "<script",
        "onerror",
        "onmouseover",
        "javascript:",
        "vbscript:",
        "data:text",
        "<iframe",
        "<form",
        "<input",
        "<svg",
        "<style",
        "<object",
        "style=",
    ):
        assert bad not in html.lower(), bad
    assert '<a href="https://ok.example.net/x" rel="nofollow noopener noreferrer">MPLS</a>' in html
    assert entry.link is None  # javascript: link dropped
    assert entry.enclosures == ()  # javascript: enclosure dropped
    # Author fields carry no CR/LF: they can never split an email header or a log line.
    assert all("\r" not in a and "\n" not in a for a in entry.authors)


def test_entity_bomb_is_refused_quickly() -> None:
    with pytest.raises(ParseError, match="entity-expansion"):
        parse("entity-bomb.xml")


def test_external_entity_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
        b"<rss version='2.0'><channel><title>t</title><item><title>&x;</title></item></channel></rss>"
    )
    with pytest.raises(ParseError, match="external"):
        parse_feed("https://a.example.net/", body, {}, NOW)


def test_plain_entities_are_still_allowed() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY rarr "&#8594;">\n]>\n'
        b"<rss version='2.0'><channel><title>t</title><item><guid>g</guid>"
        b"<title>OSPF &rarr; IS-IS</title></item></channel></rss>"
    )
    assert parse_feed("https://a.example.net/", body, {}, NOW).entries[0].title == "OSPF → IS-IS"


def test_declared_entities_are_read_without_expanding_them() -> None:
    # The quadratic blowup: one plain entity, referenced over and over.
    value = b"x" * 900
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + value + b'">\n]>\n'
        b"<rss version='2.0'><channel><title>t</title><item><guid>g</guid><description>"
        + b"&big;" * 20000
        + b"</description></item></channel></rss>"
    )
    feed = parse_feed("https://a.example.net/", body, {}, NOW)
    assert "x" * 900 not in feed.entries[0].summary_html
    assert "&amp;big;" in feed.entries[0].summary_html  # the reference, as text
    assert feed.warning and "entity declarations were not expanded" in feed.warning


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_doctype_on_the_xml_declarations_line_is_read_like_one_on_its_own(encoding: str) -> None:
    # RSS 0.91's Netscape DTD, and an internal entity, written right after <?xml ...?>:
    # feedparser strips them only at the start of a line, and the guard then refused
    # the whole feed as an attack.
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    netscape = (
        head + '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
        "<title>t</title><link>https://a.example.net/</link><description>d</description>"
        "<item><title>OSPF stub areas</title><link>https://a.example.net/1</link></item></channel></rss>"
    )
    entity = (
        head + '<!DOCTYPE rss [<!ENTITY team "the NOC">]><rss version="2.0"><channel><title>t</title>'
        "<item><guid>g</guid><title>BGP by &team;</title></item></channel></rss>"
    )
    assert [
        e.title for e in parse_feed("https://a.example.net/", netscape.encode(encoding), {}, NOW).entries
    ] == ["OSPF stub areas"]
    feed = parse_feed("https://a.example.net/", entity.encode(encoding), {}, NOW)
    assert [e.title for e in feed.entries] == ["BGP by &team;"]
    assert feed.warning and "entity declarations were not expanded" in feed.warning


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_an_entity_attack_in_utf_16_or_32_is_refused_by_name(encoding: str) -> None:
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n'
        "<rss version='2.0'><channel><title>t</title><item><title>&b;</title></item></channel></rss>"
    ).encode(encoding)
    with pytest.raises(ParseError, match="entity 'b' is built from other entities"):
        parse_feed("https://a.example.net/", body, {}, NOW)


def test_the_sax_driver_refuses_an_entity_declaration_that_reaches_it() -> None:
    import xml.sax

    from defusedxml import EntitiesForbidden

    from aggregator import feedparsing

    parser = feedparsing.create_parser()
    parser.setContentHandler(xml.sax.handler.ContentHandler())
    document = io.BytesIO(b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;&a;</r>')
    with pytest.raises(EntitiesForbidden):
        parser.parse(document)


def test_elements_nested_too_deep_are_refused() -> None:
    body = b"<rss version='2.0'><channel><title>t</title><item><x>" + b"<a>" * 5000 + b"</a>" * 5000
    body += b"</x></item></channel></rss>"
    with pytest.raises(ParseError, match="nested more than 128 deep"):
        parse_feed("https://a.example.net/", body, {}, NOW)


def test_an_entry_flood_is_read_up_to_the_cap_with_a_warning() -> None:
    items = b"".join(b"<item><guid>f-%d</guid><title>Flood %d</title></item>" % (i, i) for i in range(2500))
    for close in (b"</channel></rss>", b"</channel>"):  # well-formed, and read leniently
        feed = parse_feed("https://a.example.net/", b"<rss version='2.0'><channel>" + items + close, {}, NOW)
        assert len(feed.entries) == 2000
        assert feed.entries[0].title == "Flood 0" and feed.entries[-1].title == "Flood 1999"
        assert feed.warning and "only the first 2,000 entries were read" in feed.warning


def test_an_element_with_too_many_attributes_is_refused() -> None:
    attributes = b" ".join(b"a%d='x'" % i for i in range(300))
    body = b"<rss version='2.0'><channel><item " + attributes + b"><title>t</title></item></channel></rss>"
    with pytest.raises(ParseError, match="300 attributes"):
        parse_feed("https://a.example.net/", body, {}, NOW)


def test_html_nested_deeper_than_a_browser_nests_is_kept_as_its_text() -> None:
    deep = b"&lt;div&gt;" * 3000 + b"OSPF hello timers" + b"&lt;/div&gt;" * 3000
    body = b"<rss version='2.0'><channel><item><guid>g</guid><title>Deep</title><description>"
    body += deep + b"</description></item></channel></rss>"
    entry = parse_feed("https://a.example.net/", body, {}, NOW).entries[0]
    assert entry.summary_html == "<p>OSPF hello timers</p>"
    assert entry.excerpt == "OSPF hello timers"


def test_implausible_and_missing_dates_follow_the_rule() -> None:
    entries = {e.guid: e for e in parse("future-and-epoch.xml").entries}
    assert entries["dates-future-2999"].published is None
    assert "implausible" in (entries["dates-future-2999"].date_note or "")
    assert entries["dates-epoch-1970"].published is None
    assert entries["dates-none"].date_note == "no date in the feed"


def test_malformed_xml_is_read_leniently_with_a_warning() -> None:
    feed = parse("malformed.xml")
    assert feed.warning and "malformed XML" in feed.warning
    assert feed.entries[0].title == "Checking MTU along a GRE tunnel"


def test_html_page_is_not_a_feed() -> None:
    body = b"<!doctype html><html><head><title>Blog</title></head><body><p>Hi</p></body></html>"
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        parse_feed("https://a.example.net/", body, {"content-type": "text/html"}, NOW)


def test_body_that_is_a_local_path_is_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(fixture_bytes("rss2.xml"))
    # Given bytes, feedparser would open this as a file; we hand it a stream instead.
    with pytest.raises(ParseError):
        parse_feed("https://a.example.net/", str(secret).encode(), {}, NOW)


NESTED_BASES = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.net/">
  <title>Base &amp; relative links</title>
  <link href="/"/>
  <entry xml:base="posts/2026/">
    <id>tag:blog.example.net,2026:1</id>
    <title type="html">IGMP &lt;em&gt;snooping&lt;/em&gt; &amp;amp; queriers</title>
    <link href="igmp.html"/>
    <updated>2026-11-20T10:00:00Z</updated>
    <content type="html" xml:base="../../assets/">&lt;p&gt;Line one
line two &amp;amp; three, &lt;a href="diagram.png"&gt;diagram&lt;/a&gt;&lt;/p&gt;
<![CDATA[<p>A CDATA <b>section</b> after the entities</p>]]></content>
  </entry>
  <entry>
    <id>tag:blog.example.net,2026:2</id>
    <title>XHTML content</title>
    <link href="https://blog.example.net/xhtml"/>
    <updated>2026-11-21T10:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>PIM <a href="rp.html">RP</a> &#8212; BSR</p></div></content>
  </entry>
</feed>
"""


# Links that feedparser's own join rewrites (an empty query, ';' parameters, a
# fragment, extra slashes, an upper-case scheme, dot segments, relative forms) beside
# links it leaves alone; the tuned feedparser must give the same result for each.
URL_VARIANTS = [
    "https://blog.example.net/a/b.html",
    "http://blog.example.net/a/b.html",
    "https://Blog.Example.NET:8443/x?y=1&z=2",
    "https://blog.example.net/a?",
    "https://blog.example.net/a#",
    "https://blog.example.net/a;p?q",
    "https://blog.example.net/a#frag",
    "HTTPS://blog.example.net/upper",
    "https:///blog.example.net/three-slashes",
    "https://blog.example.net",
    "https://blog.example.net?only=query",
    "https://blog.example.net/./a/../b",
    "https://blog.example.net//double",
    "https://[::1]:8080/v6",
    "https://[broken/v6",
    "//cdn.example.net/protocol-relative",
    "/rooted/path",
    "relative/path.html",
    "?page=2",
    "mailto:noc@example.net",
    "javascript:alert(1)",
    " https://blog.example.net/space ",
]


def _variant_feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><link>{escape(url)}</link>"
        f'<guid isPermaLink="true">{escape(url)}</guid>'
        f"<description>d{i}</description></item>"
        for i, url in enumerate(URL_VARIANTS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0" xml:base="{escape(base)}"><channel>'
        f"<title>v</title><link>{escape(URL_VARIANTS[2])}</link>{items}</channel></rss>"
    ).encode()


def test_feedparser_speedups_leave_feedparser_output_unchanged() -> None:
    import io

    import feedparser

    from aggregator import feedparsing

    documents = [
        _variant_feed("https://blog.example.net/feed/"),
        _variant_feed("http://other.example.org/"),
        # C1 controls that windows-1252 repair maps, among Latin, CJK and typographic text
        (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>Fa\u00e7ade \u0080</title><item><title>\u201cquoted\u201d \u0093x\u0094 "
            "\u2014 \u7f51\u7edc \u00e9t\u00e9 \U0001f680</title><description>caf\u00e9 \u0085 "
            "\u0099 \u2026 \u0e44\u0e17\u0e22</description></item></channel></rss>"
        ).encode(),
        _variant_feed("https://[bad"),
        NESTED_BASES,
        *(
            fixture_bytes(name)
            for name in ("rss2.xml", "rss1.rdf", "atom.xml", "podcast.xml", "hostile.xml", "malformed.xml")
        ),
    ]

    def parsed() -> list[dict[str, object]]:
        out = []
        for doc in documents:
            result = feedparser.parse(
                io.BytesIO(doc),
                response_headers={"content-location": "https://blog.example.net/feed"},
                sanitize_html=False,
                resolve_relative_uris=False,
            )
            out.append({"feed": result["feed"], "entries": result["entries"], "bozo": result["bozo"]})
        return out

    tuned = parsed()
    feedparsing.uninstall()
    try:
        plain = parsed()
    finally:
        feedparsing.install()
    assert tuned == plain
    links = [e["link"] for e in tuned[0]["entries"]]
    assert links[0] == "https://blog.example.net/a/b.html"
    assert (
        links[URL_VARIANTS.index("relative/path.html")] == "https://blog.example.net/feed/relative/path.html"
    )
    assert all(type(c) is FeedParserDict for e in tuned[3]["entries"] for c in e.get("content", []))


def test_feedparser_speedups_give_the_same_result() -> None:
    # parse.py runs feedparser with a buffered SAX driver, a cached base-URI join and a
    # cheaper copy of content parameters; every field must come out as without them.
    from aggregator import feedparsing

    now = datetime(2026, 11, 25, tzinfo=UTC)
    documents = [
        NESTED_BASES,
        *(
            fixture_bytes(name)
            for name in ("rss2.xml", "rss1.rdf", "atom.xml", "podcast.xml", "hostile.xml", "malformed.xml")
        ),
    ]
    tuned = [parse_feed("https://blog.example.net/feed", doc, None, now) for doc in documents]
    feedparsing.uninstall()
    try:
        plain = [parse_feed("https://blog.example.net/feed", doc, None, now) for doc in documents]
    finally:
        feedparsing.install()
    assert tuned == plain
    first = tuned[0].entries[0]
    assert first.link == "https://blog.example.net/posts/2026/igmp.html"
    assert 'href="https://blog.example.net/assets/diagram.png"' in first.content_html
    assert "two &amp; three" in first.content_html and "CDATA <b>section</b>" in first.content_html


def test_a_teaser_summary_leaves_the_reading_to_the_content() -> None:
    """Feeds often carry a one-line description beside the full post: the excerpt is the
    author's teaser, but screening and tagging read the post itself."""
    from aggregator.parse import read_feed

    content = "<p>" + "A long night on the trading floor began with a quiet ticket. " * 8 + "</p>"
    content += "<p>The receivers had sent their IGMP reports, and PIM had built the tree.</p>"
    body = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<link>https://blog.example.net/</link><item><title>Three routers, one stream</title>"
        "<guid>a</guid><description>What went wrong, in short.</description>"
        f"<content:encoded><![CDATA[{content}]]></content:encoded></item></channel></rss>"
    ).encode()
    feed, (lead,) = read_feed("https://blog.example.net/feed.xml", body, None, NOW)
    assert feed.entries[0].excerpt == "What went wrong, in short."
    assert "IGMP reports" in lead


RSS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
    "<channel><title>Fa\u00e7ade &amp; friends</title><link>https://blog.example.net/</link>"
    "<language>en-GB</language><itunes:author>Ana</itunes:author><image><title>Logo</title>"
    "<url>https://blog.example.net/l.png</url><link>https://blog.example.net/</link></image>"
)
ATOM_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en_US">'
    '<title type="html">Atom &amp;amp; more</title><link href="https://blog.example.net/"/>'
    "<id>tag:blog.example.net,2026:feed</id><updated>2026-11-20T10:00:00Z</updated>"
)
# Plain documents the fast path reads: each field in the orders and forms feedparser has
# rules for (a guid standing in for a link, content before or after the description,
# HTML in a plain title, UTF-8 read as Latin-1, windows-1252 controls, repeated links).
FAST_DOCUMENTS = [
    RSS_HEAD
    + "<item><guid>https://blog.example.net/p/1?a=1&amp;b=2</guid><title>BGP &lt;b&gt;flap&lt;/b&gt; "
    "damping</title><pubDate>Mon, 16 Nov 2026 08:00:00 GMT</pubDate><dc:creator> Ana </dc:creator>"
    "<category domain='x'>bgp</category><category>ops</category>"
    "<content:encoded><![CDATA[<p>Dampening <a href='/rel'>penalties</a></p>]]></content:encoded>"
    "<description>Teaser &amp; more</description></item>"
    "<item><title>Caf\u00c3\u00a9 \u0093OSPF\u0094 &amp; \u7f51\u7edc</title>"
    "<link>  /posts/2?x=1&amp;amp;y=2  </link><guid isPermaLink='false'>id-2</guid>"
    "<description><![CDATA[<p>IS-IS &amp; levels</p>]]></description>"
    "<content:encoded><![CDATA[<p>Full text</p>]]></content:encoded></item>"
    "<item><title></title><guid isPermaLink='false'>id-3</guid><dc:creator></dc:creator>"
    "<description>No title, no link</description></item>"
    "<item><title>&amp;</title><link>https://blog.example.net/4</link></item>"
    "<item><title>Caf\u00c3\u00a9</title><guid>https://blog.example.net/5</guid>"
    "<link>https://blog.example.net/5b</link></item>"
    "<item><title>Episode 7</title><guid isPermaLink='false'>ep7</guid>"
    "<description>Show notes</description><content:encoded>&lt;p&gt;Full notes&lt;/p&gt;</content:encoded>"
    "<enclosure url='https://cdn.example.net/7.mp3' length='41182867' type='audio/mpeg'/>"
    "<enclosure url='/7.ogg' type='audio/ogg'/><itunes:episode> 7 </itunes:episode>"
    "<itunes:season>2</itunes:season><itunes:duration>1:02:03</itunes:duration>"
    "<itunes:summary>Plain &lt;b&gt;summary&lt;/b&gt;</itunes:summary><itunes:explicit>no</itunes:explicit>"
    "<itunes:image href='/ep7.jpg'/></item>"
    "<ttl>60</ttl></channel></rss>",
    ATOM_HEAD + "<entry><id>https://blog.example.net/e/1</id><title>MPLS &amp; LDP</title>"
    '<link rel="enclosure" type="audio/mpeg" length="100" href="/a.mp3"/>'
    '<link rel="alternate" type="application/pdf" href="/e/1.pdf"/>'
    "<published>2026-11-19T10:00:00+01:00</published><updated>2026-11-20T10:00:00Z</updated>"
    "<author><name>Ana</name></author>"
    '<content type="html">&lt;p&gt;Labels&lt;/p&gt;</content><summary>Short</summary></entry>'
    '<entry><title type="text">Plain &lt;i&gt;text&lt;/i&gt;</title><link href="/e/2"/>'
    '<link rel="alternate" href="/e/2b"/><id>tag:blog.example.net,2026:2</id>'
    "<author><name></name></author><updated>2026-11-21T10:00:00Z</updated>"
    '<summary type="html">&lt;p&gt;One&lt;/p&gt;</summary><content type="text">Two\n\nparas</content>'
    '<category term="mpls"/></entry></feed>',
]
# Documents the fast path leaves to feedparser (their rules are feedparser's alone).
DECLINED_DOCUMENTS = [
    RSS_HEAD + "<item><title>a</title><dc:creator>ana@example.net (Ana)</dc:creator></item></channel></rss>",
    RSS_HEAD + "<item><title>a</title><comments>/c</comments></item></channel></rss>",
    RSS_HEAD + "<item><title>a</title></item><ttl>5</ttl><item><title>b</title></item></channel></rss>",
    RSS_HEAD + "<item><title>a</title><title>b</title></item></channel></rss>",
    RSS_HEAD + "<item><title>a\r\nb</title></item></channel></rss>",
    RSS_HEAD + "<item><title>a <b>bold</b></title></item></channel></rss>",
    RSS_HEAD + "<item><description>d</description><itunes:summary>s</itunes:summary></item></channel></rss>",
    RSS_HEAD + "<item><title>a</title><itunes:image url='/x.jpg'/></item></channel></rss>",
    ATOM_HEAD + '<entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
    "</content></entry></feed>",
    ATOM_HEAD + '<entry xml:base="/b/"><title>a</title></entry></feed>',
    ATOM_HEAD + "<entry><author><name>A</name><email>a@example.net</email></author></entry></feed>",
    # feedparser reads rel and type in lower case, and an empty href as the feed's URL.
    ATOM_HEAD
    + "<entry><title>a</title><link rel='Alternate' href='https://pod.example.net/1'/></entry></feed>",
    ATOM_HEAD
    + "<entry><title>a</title><link rel='Enclosure' href='https://m.example.net/1.mp3'/></entry></feed>",
    ATOM_HEAD + "<entry><title>a</title><link href=''/></entry></feed>",
    RSS_HEAD + "<item><title>a</title><enclosure url='https://m.example.net/1.mp3' type='Audio/MPEG' "
    "length='1'/></item></channel></rss>",
]


@pytest.mark.parametrize("kind", ["application/rss+xml", "application/atom+xml; charset=utf-8"])
def test_the_fast_entry_reader_gives_what_feedparser_gives(kind: str) -> None:
    """Plain RSS and Atom entries are read without feedparser's handlers: every field of
    every post must be what feedparser gives, and the rest left to feedparser."""
    import feedparser

    from aggregator import fastfeed
    from aggregator.parse import read_feed

    url = "https://blog.example.net/feed.xml"
    headers = {"content-type": kind, "content-location": url}

    def run(document: bytes) -> object:
        return feedparser.parse(io.BytesIO(document), response_headers=headers, sanitize_html=False)

    documents = [d.encode() for d in FAST_DOCUMENTS + DECLINED_DOCUMENTS]
    documents += [fixture_bytes(name) for name in ("rss2.xml", "atom.xml", "podcast.xml", "hostile.xml")]
    documents += [fixture_bytes(name) for name in ("future-and-epoch.xml", "malformed.xml", "rss1.rdf")]
    for document in documents:
        assert read_feed(url, document, headers, NOW) == read_feed(url, document, headers, NOW, fast=False)
    taken = [fastfeed.read(doc.encode(), headers, run) is not None for doc in FAST_DOCUMENTS]
    declined = [fastfeed.read(doc.encode(), headers, run) is None for doc in DECLINED_DOCUMENTS]
    assert all(taken) and all(declined)
    rss_feed = parse_feed(url, FAST_DOCUMENTS[0].encode(), headers, NOW)
    assert [e.link for e in rss_feed.entries] == [
        "https://blog.example.net/p/1?a=1&b=2",
        "https://blog.example.net/posts/2?x=1&y=2",
        None,
        "https://blog.example.net/4",
        "https://blog.example.net/5b",
        None,
    ]
    assert rss_feed.entries[4].title == "Caf\u00e9"
    episode = rss_feed.entries[5]
    assert [e.url for e in episode.enclosures] == [
        "https://cdn.example.net/7.mp3",
        "https://blog.example.net/7.ogg",
    ]
    assert episode.podcast is not None and (episode.podcast.episode, episode.podcast.duration) == (7, 3723)
    assert rss_feed.title == "Fa\u00e7ade & friends" and rss_feed.language == "en-gb"
    # The UTF-8-read-as-Latin-1 repair applies only to text that is all Latin-1; the
    # windows-1252 controls become the quotes they stand for.
    assert rss_feed.entries[1].title == "Caf\u00c3\u00a9 \u201cOSPF\u201d & \u7f51\u7edc"
    atom_feed = parse_feed(url, FAST_DOCUMENTS[1].encode(), headers, NOW)
    assert atom_feed.language == "en-us"
    assert [e.link for e in atom_feed.entries] == [
        "https://blog.example.net/e/1",
        "https://blog.example.net/e/2b",
    ]
    assert atom_feed.entries[0].enclosures[0].url == "https://blog.example.net/a.mp3"


def test_the_usual_date_forms_are_read_as_feedparser_reads_them() -> None:
    """Post dates in the two usual forms are read without feedparser's chain of date
    parsers: every one must come out as the same instant, invalid ones included."""
    import random

    import feedparser.datetimes

    from aggregator.fastfeed import _parsed_date

    rng = random.Random(12)
    days, months = (
        "Mon Tue Wed Thu Fri Sat Sun".split(),
        "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
    )
    values = ["Mon, 16 Nov 2026 08:00:00 GMT", "2026-11-20T10:00:00Z", "Sat, 31 Jun 2024 03:28:00 GMT"]
    values += ["Sun, 01 Jan 2026 24:00:00 GMT", "2026-02-29T10:00:00+01:00", "Tue, 1 Dec 2026 08:00:00 EST"]
    for _ in range(3000):
        n = [rng.randint(0, 39), rng.randint(1000, 2999), rng.randint(0, 29), rng.randint(0, 59)]
        values.append(
            f"{rng.choice(days)}, {n[0]:02} {rng.choice(months)} {n[1]} {n[2]:02}:{n[3]:02}:{n[3]:02} "
            + rng.choice(["GMT", "+0000", "-0800", "+0530", "+1400", "+0060"])
        )
        values.append(
            f"{n[1]}-{n[0] % 20:02}-{n[0]:02}T{n[2]:02}:{n[3]:02}:{n[3]:02}"
            + rng.choice(["Z", "+00:00", "-08:00", "+05:30", "-11:59"])
        )
    assert [_parsed_date(v) for v in values] == [feedparser.datetimes._parse_date(v) for v in values]
    assert _parsed_date(values[0])[:6] == (2026, 11, 16, 8, 0, 0)
    assert _parsed_date(values[2]) is None  # no 31 June


def test_chapter_marks_in_every_normal_play_time_form_are_read() -> None:
    # Podlove Simple Chapters' start is Normal Play Time: hours and minutes are optional and
    # may have one digit, seconds may have a fraction. feedparser reads only two-digit forms.
    marks = ("00:00:00.000", "1:23:45.678", "5:23", "42", "01:02", "soon", "-3")
    chapters = "".join(f'<psc:chapter start="{m}" title="Mark {m}"/>' for m in marks)
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:psc="http://podlove.org/simple-chapters">'
        "<channel><title>Pod</title><link>https://pod.example.net/</link><item><title>Episode 1</title>"
        '<guid>e1</guid><enclosure url="https://pod.example.net/1.mp3" length="1" type="audio/mpeg"/>'
        f'<psc:chapters version="1.2">{chapters}</psc:chapters></item></channel></rss>'
    ).encode()
    entry = parse_feed("https://pod.example.net/feed.xml", body).entries[0]
    assert entry.podcast is not None
    assert [(c.start, c.title) for c in entry.podcast.chapters] == [
        (0.0, "Mark 00:00:00.000"),
        (42.0, "Mark 42"),
        (62.0, "Mark 01:02"),
        (323.0, "Mark 5:23"),
        (5025.678, "Mark 1:23:45.678"),
    ]


@pytest.mark.parametrize("channel_title", ["Routing & Switching Radio", "Routing &amp; Switching Radio"])
def test_chapter_titles_read_the_same_from_a_malformed_feed(channel_title: str) -> None:
    # A bare "&" elsewhere (common) makes the document malformed; read leniently, the
    # chapters' attribute values kept their entities, and pages showed "&quot;".
    chapters = (
        '<psc:chapter start="00:05:00" title="The &quot;zero trust&quot; myth"/>'
        '<psc:chapter start="00:10:00" title="Why BGP &lt;3 OSPF"/>'
        '<psc:chapter start="00:15:00" title="Rock &apos;n&apos; roll routing"/>'
        '<psc:chapter start="00:20:00" title="Intro: Q&amp;A from listeners"/>'
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:psc="http://podlove.org/simple-chapters">'
        f"<channel><title>{channel_title}</title><link>https://pod.example.net/</link>"
        "<item><title>Episode 1</title><guid>e1</guid>"
        '<enclosure url="https://pod.example.net/1.mp3" length="1" type="audio/mpeg"/>'
        f'<psc:chapters version="1.2">{chapters}</psc:chapters></item></channel></rss>'
    ).encode()
    entry = parse_feed("https://pod.example.net/feed.xml", body).entries[0]
    assert entry.podcast is not None
    assert [c.title for c in entry.podcast.chapters] == [
        'The "zero trust" myth',
        "Why BGP <3 OSPF",
        "Rock 'n' roll routing",
        "Intro: Q&A from listeners",
    ]


def test_entries_with_nothing_to_identify_them_are_noted() -> None:
    # The store leaves out an entry with no guid, link or title (it could not tell it from
    # one fetch to the next); status said nothing of it.
    body = rss(Item("A post", guid="a"), Item("", guid=None, link=None, body="<p>Only words.</p>"))
    assert parse_feed("https://blog.example.net/feed.xml", body).warning == (
        "1 entries have no guid, link or title, and were left out"
    )


def test_relative_guids_of_a_feed_behind_a_password_are_what_they_were() -> None:
    # Ids are identity, never published: resolved against the URL as configured, as every
    # version did. Resolved without its credentials, each episode of such a feed (relative
    # permalink guids, every link the show's page) was stored a second time on upgrade.
    url = "https://member:secret@pod.example.net/feed.xml"
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Pod</title>'
        b"<link>https://pod.example.net/</link><item><title>Episode 1</title>"
        b'<guid isPermaLink="true">ep-1</guid><link>/show</link>'
        b'<enclosure url="/1.mp3" length="1" type="audio/mpeg"/></item></channel></rss>'
    )
    entry = parse_feed(url, body).entries[0]
    assert entry.guid == "https://member:secret@pod.example.net/ep-1"
    assert entry.link == "https://pod.example.net/show"  # links never carry the password
