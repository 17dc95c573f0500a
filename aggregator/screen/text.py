"""The text screening and tagging read of a post, built here and nowhere else.

`aggregator update` (parse.py), `aggregator label` and `evaluate` (label.py), `aggregator
explain` (cli.py) and `aggregator train` (train.py) all read a post through these functions,
so a post is judged on the same characters whichever command looks at it.
"""

from __future__ import annotations

from ..sanitize import text_of_clean_html

TEXT_LIMIT = 400  # characters of title + text screened: enough to decide, cheap to run
EXCERPT_CHARS = 300  # characters of a post's excerpt on the site and in the digest
# HTML read to make an entry's lead text (the excerpt, and what screening and tagging
# read): a short prefix, then longer ones while markup leaves too little text. LEAD_CHARS
# is what they read, with a margin so that a tag or entity cut off at the end of a prefix
# cannot change them.
LEAD_SOURCES = (700, 1500, 4000)
LEAD_CHARS = max(EXCERPT_CHARS, TEXT_LIMIT) + 32


def lead_of(html: str) -> str:
    """Enough text from the start of sanitized HTML to cut an excerpt from and screen.

    Only a prefix of the HTML is converted: a short one first, a longer one when markup
    ate most of it.
    """
    text = ""
    for size in LEAD_SOURCES:
        text = text_of_clean_html(html[:size])
        if len(text) > LEAD_CHARS or len(html) <= size:
            return text
    return text


def leads(summary_html: str, content_html: str) -> tuple[str, str]:
    """(teaser, lead) of a post's sanitized summary and content: the teaser is the
    summary's text; the lead, what screening reads, is the teaser, or the content's text
    when the summary is too short to say much (a one-line teaser) and the content says more."""
    teaser = lead_of(summary_html)
    lead = teaser
    if content_html and len(teaser) <= LEAD_CHARS:
        lead = max(teaser, lead_of(content_html), key=len)  # the teaser when as long
    return teaser, lead


def screening_text(title: str, lead: str, limit: int = TEXT_LIMIT) -> str:
    """What the screener and the tagger read: the title, a line break and the lead, cut to
    `limit` characters."""
    return f"{title}\n{lead}"[:limit]
