"""Feed HTML and text fields are hostile: what comes out is safe to put in a page or header."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.sanitize import clean_html, clean_text, excerpt, plain_text, text_of_clean_html
from aggregator.urls import clean_link

BASE = "https://blog.example.net/posts/feed.xml"

VECTORS = [
    '<a href="  javascript:alert(1)">a</a>',
    '<a href="jav&#x09;ascript:alert(1)">b</a>',
    '<a href="JaVaScRiPt:alert(1)">c</a>',
    '<a href="java\nscript:alert(1)">d</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
    '<a href="vbscript:msgbox(1)">e</a>',
    '<math><mi xlink:href="javascript:alert(1)">g</mi></math>',
    '<p style="background:url(javascript:alert(1))">h</p>',
    "<svg><script>alert(1)</script></svg>",
    '<img src=x onerror="alert(1)">',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<form action="https://evil.example.com/"><button formaction="javascript:alert(1)">x</button></form>',
    "<!--<script>alert(1)</script>-->",
    "<scr<script>ipt>alert(1)</script>",
    '<a href="https://ok.example.net/" onclick="steal()">ok</a>',
    '<object data="javascript:alert(1)"></object><embed src="x.swf">',
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    '<base href="javascript:alert(1)//">',
    '<link rel=stylesheet href="https://evil.example.com/x.css">',
    '<blockquote cite="javascript:alert(1)">q</blockquote><q cite="data:text/html,x">r</q>',
    '<ins cite="vbscript:msgbox(1)">i</ins><del cite="JaVaScRiPt:alert(1)">d</del>',
]
DANGER = re.compile(
    r"<script|<iframe|<object|<embed|<svg|<math|<form|<meta|<base|<link|<style|\son\w+=|"
    r"javascript:|vbscript:|data:|style=",
    re.IGNORECASE,
)


@pytest.mark.parametrize("fragment", VECTORS)
def test_known_vectors_are_neutralised(fragment: str) -> None:
    assert not DANGER.search(clean_html(fragment, BASE))


def test_relative_urls_resolve_and_links_are_marked_external() -> None:
    out = clean_html('<a href="../other/">o</a><img src="img/a.png" alt="diagram">', BASE)
    assert out == (
        '<a href="https://blog.example.net/other/" rel="nofollow noopener noreferrer">o</a>'
        '<img src="https://blog.example.net/posts/img/a.png" alt="diagram">'
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*VECTORS, "<p>", "</p>", "text", "&amp;", "<b>", '"', "'", ">"]), max_size=12)
)
def test_any_mix_of_hostile_fragments_stays_safe(parts: list[str]) -> None:
    out = clean_html("".join(parts), BASE)
    assert not DANGER.search(out)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_text_fields_never_carry_control_characters(value: str) -> None:
    for out in (clean_text(value), plain_text(value), text_of_clean_html(value)):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", out)
        assert out == out.strip()


@given(st.text(min_size=1))
def test_excerpt_is_short_and_a_prefix(value: str) -> None:
    text = clean_text(value)
    cut = excerpt(text, 50)
    assert len(cut) <= 51
    assert text.startswith(cut.rstrip("…").rstrip(" ,;:.-"))


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://Blog.Example.NET/a/?utm_source=x&id=3#frag", "https://blog.example.net/a/?id=3"),
        ("/relative/path?fbclid=1", "https://blog.example.net/relative/path"),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("ftp://files.example.net/x", None),
        ("https://user:pass@blog.example.net/x", "https://blog.example.net/x"),
        ("", None),
        ("https://blog.example.net:99999/x", None),
        ("https://blog.example.net:443/x", "https://blog.example.net/x"),
        ("http://[2001:db8::1]:8080/feed", "http://[2001:db8::1]:8080/feed"),
    ],
)
def test_clean_link(link: str, expected: str | None) -> None:
    assert clean_link(link, BASE) == expected


@pytest.mark.parametrize(
    "link",
    [
        "https://blog.example.net/posts/bgp-timers.html",
        "https://blog.example.net",
        "http://127.0.0.2/feed",
        "https://blog.example.net/a;b/c%20d/",
        "https://blog.example.net/a/./b/../c",
        "https://blog.example.net./trailing-dot",
        "https://Blog.Example.net/upper",
        "https://blog.example.net:443/default-port",
        "https://user:pw@blog.example.net/userinfo",
        "https://blog.example.net/p?utm_source=x&id=3",
        "https://blog.example.net/p#section",
        "https://-bad-.example.net/x",
        "https://blog.example.net/\\back",
        "http://127.0.0.2:8089/notes/a.html",
        "http://blog.example.net:80/default",
        "https://blog.example.net:443",
        "https://blog.example.net:99999/out-of-range",
        "https://blog.example.net:0443/leading-zero",
    ],
)
def test_clean_link_shortcut_agrees_with_the_full_path(link: str) -> None:
    # Links that need no cleaning skip urllib; the answer must be the one urllib gives.
    from aggregator.urls import _clean

    assert clean_link(link, BASE) == _clean(link, BASE)


@pytest.mark.parametrize(
    "value",
    [
        "plain words",
        " spaced\tout\n text ",
        "nul\x00byte",
        "bell\x07 and del\x7f",
        "c1\x85 \x9b",
        "line\u2028separator",
        "soft\xadhyphen",
        "zero\u200bwidth",
        "nbsp\xa0space",
        "emoji \U0001f600 ok",
    ],
)
def test_clean_text_shortcut_agrees_with_the_regex(value: str) -> None:
    from aggregator.oneline import _CONTROL

    assert clean_text(value) == " ".join(_CONTROL.sub(" ", value).split())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_text_without_markup_comes_out_as_the_sanitizer_gives_it(text: str) -> None:
    # Plain text skips the HTML parser: it must come out exactly as the parser gives it.
    from aggregator import sanitize

    assert clean_html(text, BASE) == (str(sanitize._cleaner(BASE).clean(text)).strip() if text else "")
