"""Link normalization: what clean_link and resolve store, checked against RFC 3986."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc3986 import HTTP_URI, is_safe_http_url

from aggregator.store import post_id
from aggregator.urls import _clean, clean_link, feed_key, on_own_site, resolve

BASE = "https://blog.example.net/feed.xml"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # Markup in a path or a query is encoded, the apostrophe included.
        (
            "http://blog.example.net/posts/'><script>alert(1)</script>",
            "http://blog.example.net/posts/%27%3E%3Cscript%3Ealert(1)%3C/script%3E",
        ),
        ('https://blog.example.net/say-"hello"', "https://blog.example.net/say-%22hello%22"),
        ("https://blog.example.net/?a=<b>&c='d'", "https://blog.example.net/?a=%3Cb%3E&c=%27d%27"),
        ("/posts/it's-bgp", "https://blog.example.net/posts/it%27s-bgp"),
        # Spaces and control characters inside; tabs and newlines are removed, as browsers do.
        ("https://blog.example.net/a b\x01c\x7f", "https://blog.example.net/a%20b%01c%7F"),
        ("https://blog.example.net/\ttab\nline ", "https://blog.example.net/tabline"),
        # The other characters RFC 3986 does not allow.
        ("https://blog.example.net/path\\to\\post", "https://blog.example.net/path%5Cto%5Cpost"),
        ("https://blog.example.net/{x}|^`[y]", "https://blog.example.net/%7Bx%7D%7C%5E%60%5By%5D"),
        # Non-ASCII: UTF-8 escapes in the path and query, punycode for the host.
        ("https://bücher.example/über?q=ä", "https://xn--bcher-kva.example/%C3%BCber?q=%C3%A4"),
        ("https://ＢＬＯＧ.example.net/", "https://blog.example.net/"),
        # Escapes already there are kept (in upper case), never encoded twice; a bare % is.
        ("https://blog.example.net/a%20b/%e2%80%99s", "https://blog.example.net/a%20b/%E2%80%99s"),
        ("https://blog.example.net/100%/off%2", "https://blog.example.net/100%25/off%252"),
        # & between parameters stays: it is the query's own separator.
        (
            "https://blog.example.net/search?q=bgp&page=2&utm_source=rss",
            "https://blog.example.net/search?q=bgp&page=2",
        ),
        # Never a link: other schemes, however spelled, and hosts no DNS name looks like.
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" \x00javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("vbscript:msgbox(1)", None),
        ("VBScript:msgbox(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ('https://evil.example"onmouseover=alert(1)/', None),
        ("https://exa mple.net/", None),
        ("http://blog.example.net\\@evil.example/", None),  # browsers read the host before "\\"
        ("http://[fe80::1%25eth0]/", None),
    ],
)
def test_links_are_percent_encoded_http_urls(link: str, expected: str | None) -> None:
    assert clean_link(link, BASE) == expected
    if expected is not None:
        assert is_safe_http_url(expected)


@pytest.mark.parametrize(
    "link",
    [
        "https://blog.example.net/posts/bgp-timers.html",
        "https://blog.example.net/2026/11/25/ospf-areas/",
        "https://blog.example.net/search?q=bgp&page=2",
        "https://blog.example.net/a%20b/%E2%80%99s",
        "https://blog.example.net/a;b=c/(d)!*+,$@:",
        "http://[2001:db8::1]:8080/feed",
        "https://xn--bcher-kva.example/%C3%BCber",
        "https://blog.example.net/?p=123",
    ],
)
def test_a_link_already_normal_is_unchanged_and_keeps_its_post_id(link: str) -> None:
    # Post ids of posts without a guid come from the stored link: the same string, the same id.
    assert clean_link(link) == link
    assert post_id(BASE, "link", clean_link(link) or "") == post_id(BASE, "link", link)


def test_resolve_normalizes_enclosures_but_keeps_their_query_and_fragment() -> None:
    assert resolve("/media/ep 1.mp3?utm_source=feed#t=10 20", BASE) == (
        "https://blog.example.net/media/ep%201.mp3?utm_source=feed#t=10%2020"
    )
    assert resolve("https://cdn.example.net/'><img src=x>.jpg", BASE) == (
        "https://cdn.example.net/%27%3E%3Cimg%20src=x%3E.jpg"
    )
    assert resolve("JavaScript:alert(1)", BASE) is None
    assert resolve("data:image/png;base64,AAAA", BASE) is None


# URLs from every part a link has, each drawn from any text: most are a mess.
HOSTS = st.sampled_from(
    ["blog.example.net", "Blog.Example.NET", "bücher.example", "[2001:db8::1]", "127.0.0.2", "a_b.example"]
)
ANY_URL = st.builds(
    lambda scheme, host, port, path, query, fragment: f"{scheme}://{host}{port}/{path}{query}{fragment}",
    st.sampled_from(["http", "https", "HTTPS"]),
    HOSTS,
    st.sampled_from(["", ":443", ":8080", ":80"]),
    st.text(),
    st.one_of(st.just(""), st.text().map(lambda q: "?" + q)),
    st.one_of(st.just(""), st.text().map(lambda f: "#" + f)),
)


@settings(max_examples=400, deadline=None)
@given(ANY_URL)
def test_normalized_links_are_rfc3986_and_normalizing_again_changes_nothing(link: str) -> None:
    cleaned, resolved = clean_link(link), resolve(link, None)
    assert (cleaned is None) == (resolved is None)
    if cleaned is None or resolved is None:
        return
    for out in (cleaned, resolved):
        assert HTTP_URI.fullmatch(out), out
        assert is_safe_http_url(out), out
    assert clean_link(cleaned) == cleaned
    assert resolve(resolved, None) == resolved
    assert clean_link(resolved) == cleaned  # resolve keeps more, in the same spelling


# Characters the shortcut accepts, mixed with ones it must not (a stray %, a lower-case
# escape, an apostrophe, a space, non-ASCII): the shortcut answers only when it is right.
NEAR_CLEAN = st.text(alphabet="aZ09-._~!$&()*+,;=:@/%2fFe'\" <>é?#\\", max_size=30)


@settings(max_examples=400, deadline=None)
@given(NEAR_CLEAN, st.sampled_from(["", ":8080", ":443"]))
def test_the_shortcut_only_accepts_links_already_normal(path: str, port: str) -> None:
    link = f"https://blog.example.net{port}/{path}"
    assert clean_link(link) == _clean(link.strip(), None)


@pytest.mark.parametrize(
    ("link", "feed_url", "own"),
    [
        ("https://www.member.example.net/post", "https://member.example.net/feed.xml", True),
        ("https://blog.member.example.net/post", "https://member.example.net/feed", True),
        # Look-alikes, neighbours, a host above the feed's, and a bare suffix are not.
        ("https://member.example.net/post", "https://member.example.net.evil.example/feed", False),
        ("https://member.example.net/post", "https://evilmember.example.net/feed", False),
        ("https://victim.github.io/post", "https://attacker.github.io/feed.xml", False),
        ("https://medium.example/@victim/post", "https://attacker.medium.example/feed", False),
        ("https://victim.example.net/post", "https://net/feed", False),
        # A non-ASCII host: links are stored in punycode, feeds.yaml may write it as read.
        ("https://xn--bcher-kva.example/post", "https://b\u00fccher.example/feed.xml", True),
        (None, "https://member.example.net/feed.xml", False),
    ],
)
def test_a_link_is_on_its_feeds_site_only_on_that_host_or_a_subdomain(
    link: str | None, feed_url: str, own: bool
) -> None:
    assert on_own_site(link, feed_url) is own


def test_a_feed_url_spelt_otherwise_has_one_key() -> None:
    key = feed_key("https://blog.example.net/a%20b/feed")
    assert feed_key("HTTPS://Blog.Example.NET:443/a b/feed/") == key
    assert feed_key("https://blog.example.net/a b/feed?x=1") != key
    assert feed_key("https://b\u00fccher.example/feed") == feed_key("https://xn--bcher-kva.example/feed/")


def test_a_url_that_is_no_url_is_its_own_key_not_an_error() -> None:
    assert feed_key(" https://a.example.net:99999/feed ") == "https://a.example.net:99999/feed"
    assert feed_key("http://[::1/feed") == "http://[::1/feed"


def test_user_information_is_taken_out_of_messages_and_nothing_else() -> None:
    from aggregator.urls import without_userinfo

    assert (
        without_userinfo("stopped at https://bob:p@ss@a.example.net/feed")
        == "stopped at https://a.example.net/feed"
    )
    # An @ in a query or a fragment is no user's: the host stays.
    assert (
        without_userinfo("http://127.0.0.1:8080?email=bob@example.org")
        == "http://127.0.0.1:8080?email=bob@example.org"
    )
    assert (
        without_userinfo("https://feeds.example.net#me@example.org")
        == "https://feeds.example.net#me@example.org"
    )
