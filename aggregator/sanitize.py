"""Feed HTML is hostile: an allow-list sanitizer (nh3) and plain-text helpers."""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3

from .oneline import one_line

TAGS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "b",
        "bdi",
        "bdo",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
        "wbr",
    ]
)
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "abbr": {"title"},
    "acronym": {"title"},
    # No "cite" on blockquote, q, del or ins: it is a URL, but the sanitizer checks the
    # schemes of href and src only, so "javascript:" would pass there into our feeds.
    "del": {"datetime"},
    "ins": {"datetime"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "time": {"datetime"},
    "col": {"span"},
    "colgroup": {"span"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "noscript",
        "template",
        "form",
        "select",
        "textarea",
        "button",
        "frameset",
        "frame",
        "applet",
        "head",
        "title",
    }
)
# The HTML parser behind nh3 (html5ever) checks the stack of open elements for every tag,
# so markup nested n deep costs n² steps: 100,000 nested <div> take it many seconds, a
# million of them hours. Chromium's parser stops nesting at 512 (deeper elements become
# siblings); a fragment nested deeper than that is taken as its text.
MAX_HTML_DEPTH = 512
# html5ever also slows down with the square of the character references in one text node
# (400,000 "&amp;" take a second). No post needs more HTML than this, about 80,000 words;
# longer fragments are cut here (the parser closes what the cut leaves open).
MAX_HTML_CHARS = 500_000
# Elements that never hold others, or that the next sibling closes by itself (<p>, <li>,
# table cells): they add no depth, even unclosed.
_FLAT_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta source track wbr param keygen "
    "p li dt dd tr td th option optgroup rb rt rp rtc tbody thead tfoot colgroup caption "
    "html head body".split()
)
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")


@lru_cache(maxsize=64)
def _cleaner(base: str | None) -> nh3.Cleaner:
    # A prepared Cleaner per base URL: building one costs as much as cleaning a post,
    # and the posts of one feed nearly always share one base.
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        strip_comments=True,
        link_rel="nofollow noopener noreferrer",
        url_schemes=set(URL_SCHEMES),
        url_relative=("rewrite_with_base", base) if base else "deny",
    )


def html_depth(fragment: str) -> int:
    """How deep the fragment's elements nest, counting the elements that need an end tag."""
    depth = deepest = 0
    for closing, name in _TAG_NAME.findall(fragment):
        if name.lower() in _FLAT_ELEMENTS:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def too_deep(fragment: str) -> bool:
    # Fewer tags than the limit cannot nest deeper than it: str.count settles most posts.
    return fragment.count("<") > MAX_HTML_DEPTH and html_depth(fragment) > MAX_HTML_DEPTH


def _text_of_markup(fragment: str) -> str:
    """The text of markup too deep to parse: tags dropped by a regex, entities decoded."""
    return clean_text(html.unescape(_ANY_TAG.sub(" ", fragment)))


# What the sanitizer would change in text without markup: the characters it escapes
# ("&", "<", ">", a no-break space), and the CR and NUL its parser rewrites.
_NOT_PLAIN = re.compile("[<>&\r\x00\u00a0]")


def _plain(fragment: str) -> bool:
    """Whether a fragment is text the sanitizer gives back unchanged (stripped): a third
    of the summaries feeds send, which then skip the HTML parser. Checked on 33,467 such
    texts of the bench corpora and the training data: the same output, byte for byte."""
    return (
        _NOT_PLAIN.search(fragment) is None and fragment.replace("\n", " ").replace("\t", " ").isprintable()
    )


def clean_html(fragment: str | None, base: str | None) -> str:
    """Sanitize an HTML fragment from a feed, resolving relative URLs against base.

    Markup nested deeper than MAX_HTML_DEPTH is kept as one escaped paragraph of its text.
    """
    if not fragment:
        return ""
    fragment = fragment[:MAX_HTML_CHARS]
    if _plain(fragment):
        return fragment.strip()
    if too_deep(fragment):
        text = _text_of_markup(fragment)
        return f"<p>{html.escape(text, quote=False)}</p>" if text else ""
    if base and not base.startswith(("https://", "http://")):
        base = None
    return str(_cleaner(base).clean(fragment)).strip()


def clean_again(stored: str) -> str:
    """HTML clean_html stored, sanitized again by today's rules (a migration's job): no
    size cap (sanitized HTML is longer than what it came from, so the cap would cut it),
    no base (its URLs are absolute already)."""
    return str(_cleaner(None).clean(stored)).strip() if stored else ""


clean_text = one_line  # text that is already plain, on one line (oneline.py)


def plain_text(fragment: str | None) -> str:
    """Text of an HTML fragment: tags and dangerous content removed, entities decoded,
    control characters (CR, LF included) and runs of whitespace collapsed to one space."""
    if not fragment:
        return ""
    text = fragment[:MAX_HTML_CHARS]
    if too_deep(text):
        return _text_of_markup(text)
    if "<" in text or "&" in text:
        text = html.unescape(
            nh3.clean(text, tags=set(), clean_content_tags=set(DROP_WITH_CONTENT), strip_comments=True)
        )
    return clean_text(text)


_BLOCK_TAG = re.compile(
    r"</?(?:p|br|li|div|h[1-6]|pre|tr|td|th|blockquote|ul|ol|dl|dd|dt|figure|figcaption|hr|table)\b[^>]*>",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"<[^>]*>")


def text_of_clean_html(fragment: str) -> str:
    """Text of HTML that clean_html already sanitized (so well-formed): a cheap regex pass.

    Block tags become spaces so paragraphs do not run together; a cut-off tag at the end
    of a prefix is dropped with the rest.
    """
    if not fragment:
        return ""
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", fragment))
    cut = text.find("<")
    if cut >= 0:
        text = text[:cut]
    return clean_text(html.unescape(text))


def excerpt(text: str, limit: int = 300) -> str:
    """Cut plain text at a word boundary, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-")
    return cut + "…"
