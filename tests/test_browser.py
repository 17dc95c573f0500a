"""The built site in a real browser: Debian's chromium, driven by Playwright.

`make test` installs chromium with apt when it is missing (Playwright's own browser
download is not used).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedgen import Item, rss
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sitekit import NOW, SITE, make_site_db, store_feed

from aggregator.publish.site import build_site
from aggregator.screen.verdict import Screener
from aggregator.topics.taxonomy import load_taxonomy
from aggregator.types import FeedConfig

CHROMIUM = Path("/usr/bin/chromium")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    store = make_site_db(root / "site.db", Screener.load(("en",)))
    build_site(store, SITE, load_taxonomy(), root / "public", NOW)
    with serve(root / "public") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], "the browser reported errors (a CSP violation?)"


def screenshot(page: Page, path: Path) -> tuple[int, int]:
    """Save a screenshot; return its size in pixels, read from the PNG header."""
    data = page.screenshot(path=str(path), full_page=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_home_then_a_topic(page: Page, site: str, tmp_path: Path) -> None:
    page.goto(site + "index.html")
    assert page.locator("h1").inner_text() == "Latest posts"
    width, height = screenshot(page, tmp_path / "home.png")
    assert width >= 1200 and height > 900
    page.get_by_role("navigation", name="Topics").get_by_role("link", name="kubernetes").click()
    page.wait_for_url("**/topics/kubernetes/index.html")
    assert page.locator("h1").inner_text() == "kubernetes"
    assert page.get_by_text("Dual-Stack Kubernetes Clusters").count() >= 1
    why = page.locator("details.why").first
    why.locator("summary").click()
    assert "score" in why.inner_text()
    screenshot(page, tmp_path / "topic.png")


def test_search_finds_posts_by_their_words(page: Page, site: str, tmp_path: Path) -> None:
    page.goto(site + "index.html")
    page.get_by_label("Search posts").fill("conntrack")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search/index.html?q=conntrack")
    results = page.locator(".pagefind-ui__result")
    # Pagefind shows a placeholder (". . .") before it has read the result's fragment:
    # waited for until the title is in, or the test reads the placeholder on a busy machine.
    expect(results.first).to_contain_text("Kubernetes Networking War Stories", timeout=15000)
    screenshot(page, tmp_path / "search.png")


def test_episode_page_has_a_player_and_chapters(page: Page, site: str, tmp_path: Path) -> None:
    page.goto(site + "sources/on-the-wire/index.html")
    page.get_by_role("link", name="episode").first.click()
    page.wait_for_url("**/episodes/*.html")
    audio = page.locator("audio")
    assert audio.count() == 1
    assert str(audio.get_attribute("src")).startswith("https://")
    assert audio.get_attribute("preload") == "none"  # nothing loads from the publisher until play
    if page.locator("ol.chapters li").count():
        assert ":" in page.locator("ol.chapters time").first.inner_text()
    screenshot(page, tmp_path / "episode.png")


def test_phone_width_and_dark_mode(browser: Browser, site: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, color_scheme="dark")
    page = context.new_page()
    page.goto(site + "index.html")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(x) for x in background[background.index("(") + 1 : -1].split(",")[:3])
    assert max(red, green, blue) < 60, f"not dark: {background}"
    screenshot(page, tmp_path / "phone-dark.png")
    context.close()


ON_TOPIC = "<p>BGP route leaks and RPKI route origin validation on peering routers, prefix filters.</p>"


def test_very_long_words_wrap_instead_of_scrolling_sideways(browser: Browser, tmp_path: Path) -> None:
    # A title that is one 10,000-character word, a feed named by a 200-letter word, and
    # titles in Arabic, with emoji and with stacked combining marks: each page that shows
    # them still fits a phone's width and a desktop's.
    screener = Screener.load(("en",))
    store = make_site_db(tmp_path / "site.db", screener)
    odd, long_name = "https://odd.example.net/feed.xml", "Source" + "N" * 200
    store.sync_feeds([FeedConfig(odd, long_name)], NOW)
    items = [
        Item("BGP " + "W" * 10000, guid="w", link="https://odd.example.net/w", body=ON_TOPIC),
        Item(
            "BGP تسريب المسارات route leak 🚀👩‍👩‍👧‍👦",
            guid="r",
            link="https://odd.example.net/r",
            body=ON_TOPIC,
        ),
        Item("BGP Z̷̢̛̛̛a̶̧̧̧l̸g̵o̴ route leak", guid="z", link="https://odd.example.net/z", body=ON_TOPIC),
    ]
    store_feed(store, screener, odd, rss(*items), NOW, store.start_run(NOW, os.getpid()))
    store.index_topics()
    public = tmp_path / "public"
    build_site(store, SITE, load_taxonomy(), public, NOW, search=False)
    pages = ["index.html", "topics/bgp/index.html", "sources/index.html", "digests/2026-11-16.html"]
    pages += [f"sources/{d.name}/index.html" for d in (public / "sources").glob("sourcen*")]
    pages += [f"health/{p.name}" for p in (public / "health").glob("sourcen*.html")]
    assert len(pages) >= 6  # the long-named feed's source page and health page too
    with serve(public) as site:
        for width in (360, 1280):
            context = browser.new_context(viewport={"width": width, "height": 800})
            page = context.new_page()
            for path in pages:
                page.goto(site + path)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at {width} px"
            context.close()


def contrast(page: Page, selector: str) -> float:
    """WCAG 2 contrast ratio of the first match's text against the background behind it."""
    colours = page.locator(selector).first.evaluate(
        """element => {
            let node = element, background = 'rgba(0, 0, 0, 0)';
            while (node && background === 'rgba(0, 0, 0, 0)') {
                background = getComputedStyle(node).backgroundColor;
                node = node.parentElement;
            }
            return [getComputedStyle(element).color, background];
        }"""
    )

    def luminance(css: str) -> float:
        channels = [int(x) / 255 for x in css[css.index("(") + 1 : -1].split(",")[:3]]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(c) for c in colours), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_search_results_are_readable_in_dark_mode(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.goto(site + "search/index.html?q=bgp")
    page.locator(".pagefind-ui__result").first.wait_for(timeout=15000)
    for selector in (
        ".pagefind-ui__result-link",
        ".pagefind-ui__result-excerpt",
        ".pagefind-ui__message",
        ".pagefind-ui__search-input",
    ):
        ratio = contrast(page, selector)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.1f}:1 on the dark theme (WCAG 1.4.3 asks 4.5:1)"
    context.close()


def test_search_page_says_so_when_the_index_is_missing(browser: Browser, tmp_path: Path) -> None:
    # The pages published without pagefind/ (a copy that left it out, a build without
    # the index): a query finds nothing, and the page says why and where to look.
    store = make_site_db(tmp_path / "site.db", Screener.load(("en",)))
    build_site(store, SITE, load_taxonomy(), tmp_path / "public", NOW, search=False)
    assert not (tmp_path / "public" / "pagefind").exists()
    with serve(tmp_path / "public") as site:
        page = browser.new_page()
        page.goto(site + "search/index.html?q=bgp")
        page.wait_for_load_state("load")
        notice = page.get_by_text("Search is not available")
        assert notice.is_visible(), "the search page shows nothing at all"
        page.get_by_role("main").get_by_role("link", name="topics").click()
        page.wait_for_url("**/topics/index.html")
        page.close()


def test_a_source_named_in_arabic_does_not_reorder_the_line_it_is_in(
    browser: Browser, tmp_path: Path
) -> None:
    # Unisolated, the Arabic name pulled the date after it into its right-to-left run:
    # the card's line read "16-11-2026 · <name>", the date first and its digits reversed.
    screener = Screener.load(("en",))
    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    url = "https://arabic.example.net/feed.xml"
    store.sync_feeds([FeedConfig(url, "مدونة الشبكات")], NOW)
    item = Item(
        "BGP route leaks on peering routers", guid="a1", link="https://arabic.example.net/1", body=ON_TOPIC
    )
    arabic = Item(
        "تسريب المسارات في الشبكات",
        guid="a2",
        link="https://arabic.example.net/2",
        body="<p>تسريب المسارات في بروتوكول BGP وكيفية منعه باستخدام المرشحات على الموجهات.</p>",
    )
    store_feed(store, screener, url, rss(item, arabic), NOW, store.start_run(NOW, os.getpid()))
    store.index_topics()
    build_site(store, SITE, load_taxonomy(), tmp_path / "public", NOW, search=False)
    with serve(tmp_path / "public") as site:
        page = browser.new_page()
        page.goto(site + "topics/bgp/index.html")
        meta = page.locator("article.post", has_text="BGP route leaks on peering routers").locator(".meta")
        name = meta.locator("a.source").bounding_box()
        date = meta.locator("time").bounding_box()
        assert name and date and name["x"] + name["width"] <= date["x"], "the date is drawn before the source"
        # The feed's health page lists its post in Arabic, dropped as not English: the
        # date in brackets after the title stays after it, in its own order.
        page.goto(site + "health/source.html")
        entry = page.locator(".dropped li", has_text="تسريب المسارات")
        title_right, date_left = entry.evaluate(
            """li => {
                const title = li.querySelector('strong');
                const range = document.createRange();
                range.setStart(title.nextSibling, 1);
                range.setEnd(title.nextSibling, 2);
                return [title.getBoundingClientRect().right, range.getBoundingClientRect().left];
            }"""
        )
        assert title_right <= date_left + 1, "the date is drawn before the post's title"
        page.close()


def test_search_page_opened_from_disk_says_to_serve_the_site(browser: Browser, tmp_path: Path) -> None:
    # `aggregator demo` says to open index.html: from disk, the browser refuses
    # Pagefind's fetches, and the search said "Searching for ..." and nothing more.
    store = make_site_db(tmp_path / "site.db", Screener.load(("en",)))
    build_site(store, SITE, load_taxonomy(), tmp_path / "public", NOW)
    page = browser.new_page()
    page.goto((tmp_path / "public" / "search" / "index.html").as_uri() + "?q=conntrack")
    page.wait_for_load_state("load")
    assert page.get_by_text("served over HTTP").is_visible()
    assert not page.get_by_text("Searching for").count()
    page.close()
