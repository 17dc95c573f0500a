"""The built site and the feeds we publish, from a database made of the demo feeds."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import subprocess
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import feedparser
import pytest
from sitekit import NOW, SITE, add_feed, add_posts, make_site_db, store_feed

from aggregator.publish.output import OutputError
from aggregator.publish.site import BuildReport, build_site
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.topics.taxonomy import load_taxonomy
from aggregator.types import FeedConfig, FeedKind

GOLDEN = Path(__file__).resolve().parent / "data" / "golden-site"


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load(("en",))


@pytest.fixture
def store(tmp_path: Path, screener: Screener) -> Store:
    return make_site_db(tmp_path / "site.db", screener)


def build(
    store: Store, out: Path, site_dir: Path | None = None, days: float = 0, search: bool = True
) -> BuildReport:
    return build_site(store, SITE, load_taxonomy(), out, NOW + timedelta(days=days), site_dir, search=search)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        for name in ("href", "src"):
            if found.get(name):
                self.links.append(str(found[name]))


def parsed(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def test_build_renders_river_topics_sources_digests_and_episodes(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    report = build(store, out)
    assert report.posts > 20 and report.unchanged == 0
    home = (out / "index.html").read_text()
    assert "Dual-Stack Kubernetes Clusters" in home  # a kept post
    assert "togel" not in home.lower()  # the hijacked feed's Indonesian spam is not published
    assert 'rel="alternate" type="application/atom+xml"' in home  # feed auto-discovery
    for page in (
        "topics/index.html",
        "topics/kubernetes/index.html",
        "topics/bgp/page/1.html",
        "sources/index.html",
        "sources/on-the-wire/index.html",
        "digests/index.html",
        "digests/2026-11-24.html",
        "digests/2026-W48.html",
        "feeds/sources.opml",
        "static/style.css",
    ):
        assert (out / page).is_file(), page
    kubernetes = (out / "topics/kubernetes/index.html").read_text()
    assert "Dual-Stack Kubernetes Clusters" in kubernetes
    assert "Why these topics" in kubernetes and "score" in kubernetes  # the reason, on demand
    episodes = sorted((out / "episodes").glob("*.html"))
    assert episodes
    with_chapters = [p.read_text() for p in episodes if 'class="chapters"' in p.read_text()]
    assert with_chapters, "the podcast's chapters are listed"
    page = with_chapters[0]
    assert re.search(r'<audio controls preload="none" src="https://[^"]+\.mp3"', page)
    # Chapter timestamps, each with a machine-readable duration (2:40 is no time of day).
    assert re.search(r'<time datetime="PT\d+S">\d+:\d\d</time>', page)


def test_feeds_reparse_and_json_feed_follows_its_spec(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out)
    for path in sorted((out / "feeds").rglob("*")):
        if path.suffix in (".atom", ".rss"):
            result = feedparser.parse(path.read_bytes())
            assert not result.bozo, (path, result.get("bozo_exception"))
            assert result.entries or "podcasts" not in path.parts, path
            assert result.feed.get("title"), path
    everything = feedparser.parse((out / "feeds/all.atom").read_bytes())
    assert everything.version == "atom10" and len(everything.entries) >= 20
    assert all(e.get("id") and e.get("title") and e.get("updated") for e in everything.entries)
    document = json.loads((out / "feeds/all.json").read_text())
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] and document["feed_url"].startswith(SITE.url)
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for attachment in item.get("attachments", []):
            assert attachment["url"].startswith("https://") and attachment["mime_type"]
    podcast = feedparser.parse((out / "feeds/podcasts/all.rss").read_bytes())
    assert podcast.entries and all(e.enclosures for e in podcast.entries)
    assert all(e.get("itunes_duration") for e in podcast.entries)
    opml = (out / "feeds/sources.opml").read_text()
    assert 'xmlUrl="https://packet-notes.example.net/feed.xml"' in opml


def test_no_broken_internal_links(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out)
    checked = 0
    for page in out.rglob("*.html"):
        for link in parsed(page).links:
            target = urldefrag(link)[0]
            if not target or urlsplit(target).scheme:
                continue
            resolved = (page.parent / unquote(target)).resolve()
            assert resolved.is_file(), f"{page.relative_to(out)} links to missing {link}"
            checked += 1
    assert checked > 500


def test_hostile_feed_content_never_reaches_pages_or_feeds(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out)
    pages = [p.read_text() for p in out.rglob("*.html")]
    # The hostile post is published, its title shown as the text it is.
    assert any("&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; route leaks" in p for p in pages)
    for path in out.rglob("*.html"):
        page = path.read_text()
        # The only scripts are our own files (the search page's): none inline, none from a feed.
        for tag, attrs in parsed(path).tags:
            if tag == "script":
                assert attrs.get("src") and not urlsplit(str(attrs["src"])).scheme, path
        assert not re.search(r"<script[^>]*>[^<]", page), f"inline script in {path}"
        assert "javascript:" not in page and "data:text" not in page
        assert not re.search(r"<[^>]+\son\w+=", page), "an event handler reached a page"
        assert "<iframe" not in page
        assert "Hostile <Feed>" not in page and "Hostile &lt;Feed&gt;" in "".join(pages)
    for path in (out / "feeds").rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        assert "javascript:" not in text and "onerror" not in text and "<script" not in text.lower()
        if path.suffix == ".atom":
            for entry in feedparser.parse(text, sanitize_html=False).entries:
                for content in entry.get("content", []):
                    assert "<script" not in content.value and "onclick" not in content.value


def test_identifiers_become_links_and_rfcs_get_pages(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out)
    pages = "".join(p.read_text() for p in (out / "topics").rglob("*.html"))
    assert '<a class="ident" href="../../rfc/7908.html">RFC 7908</a>' in pages
    assert 'href="https://bgp.tools/as/64500">AS64500</a>' in pages
    rfc = (out / "rfc/7908.html").read_text()
    assert "route leaks" in rfc and "https://www.rfc-editor.org/rfc/rfc7908" in rfc


def test_pages_carry_csp_lang_landmarks_and_no_outside_requests(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out)
    for page in out.rglob("*.html"):
        doc = parsed(page)
        tags = {tag for tag, _ in doc.tags}
        assert {"header", "main", "footer", "nav", "h1"} <= tags, page
        html_tag = next(attrs for tag, attrs in doc.tags if tag == "html")
        assert html_tag.get("lang") == "en"
        csp = next(a for t, a in doc.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
        assert "script-src 'self'" in str(csp["content"]) and "unsafe-inline" not in str(csp["content"])
        for tag, attrs in doc.tags:  # the theme loads nothing from another host
            if tag in ("link", "script", "img") and tag != "a":
                target = attrs.get("href") or attrs.get("src") or ""
                if attrs.get("rel") != "alternate":
                    assert not urlsplit(str(target)).scheme, (page, target)
        levels = [int(tag[1]) for tag, _ in doc.tags if re.fullmatch(r"h[1-6]", tag)]
        assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels)), page


def test_rebuild_after_ten_new_posts_rewrites_only_what_changed(
    store: Store, tmp_path: Path, screener: Screener, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # a build writes nothing where it is run from
    out = tmp_path / "public"
    first = build(store, out)
    old = {p: os.stat(p) for p in out.rglob("*") if p.is_file()}
    add_posts(store, 10, NOW + timedelta(days=1), screener)
    second = build(store, out, days=1)
    assert second.posts == first.posts + 10
    assert "OSPF area design note 9" in (out / "index.html").read_text()
    assert len(second.written) < 60, second.written
    # Older pages of the river keep their file (same inode, same time): rsync sees no change.
    page1 = out / "page/1.html"
    assert os.stat(page1).st_ino == old[page1].st_ino and os.stat(page1).st_mtime == old[page1].st_mtime
    third = build(store, out, days=1)
    # Nothing changed: no page, feed or search file is rewritten (or even rendered).
    assert third.written == () and third.unchanged == len(files(out))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".public.build")], (
        "no build folder left behind"
    )
    assert (tmp_path / ".public.manifest.json").is_file()  # what the pages were made from, beside the site
    assert list(work.iterdir()) == []


def test_owner_templates_and_static_files_win(store: Store, tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    (site_dir / "templates").mkdir(parents=True)
    (site_dir / "static").mkdir()
    (site_dir / "templates" / "topics.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Our own topic index</h1>{% endblock %}'
    )
    (site_dir / "static" / "style.css").write_text("body { color: #111; }\n")
    out = tmp_path / "public"
    build(store, out, site_dir)
    assert "Our own topic index" in (out / "topics/index.html").read_text()
    assert (out / "static/style.css").read_text() == "body { color: #111; }\n"
    assert "Latest posts" in (out / "index.html").read_text()  # the rest is the default theme


def test_golden_site(tmp_path: Path, screener: Screener) -> None:
    # The whole site of a small fixed database, file by file. After an intended change
    # to the theme or the model: UPDATE_GOLDEN=1 pytest tests/test_site.py -k golden
    store = make_site_db(tmp_path / "golden.db", screener, hostile=False)
    out = tmp_path / "public"
    build(store, out, search=False)  # Pagefind's index is not byte-for-byte repeatable
    built = files(out)
    # The stamp names the aggregator's version; test_build_stamp_* looks at it.
    assert json.loads(built.pop("build.json"))["posts"] > 0
    if os.environ.get("UPDATE_GOLDEN"):
        import shutil

        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(out, GOLDEN)
        (GOLDEN / "build.json").unlink()  # checked above, not byte for byte
    expected = files(GOLDEN)
    assert sorted(built) == sorted(expected)
    for name, content in expected.items():
        assert built[name] == content, f"{name} differs from tests/data/golden-site"


def test_health_page_shows_which_feeds_need_attention(store: Store, tmp_path: Path) -> None:
    from datetime import datetime

    from aggregator.types import FetchResult, Outcome

    failing = "https://routing-digest.example.net/feed.xml"
    later = datetime(2026, 11, 25, 7, 0, tzinfo=NOW.tzinfo)
    run = store.start_run(later, os.getpid())
    for _ in range(3):
        store.record(
            run, FetchResult(url=failing, status=503, outcome=Outcome.ERROR, error="HTTP 503"), None, later
        )
    out = tmp_path / "public"
    build(store, out)
    summary = (out / "health/index.html").read_text()
    assert "need attention" in summary
    rows = re.findall(r'<tr class="(\w+)">\s*<th scope="row"><a href="([^"]+)">', summary)
    assert rows[0] == ("attention", "routing-digest.html")  # problems first
    assert "failing: 3 error(s) in a row" in summary
    hijacked = (out / "health/hijacked-blog.html").read_text()
    assert "dropped as non_english" in hijacked and "language id" in hijacked
    assert "aggregator explain" in hijacked  # how to see why


def test_page_inputs_digest_the_same_in_every_process(tmp_path: Path) -> None:
    # A rebuild skips pages whose inputs match the last build's; the digests must not
    # depend on the process (string hashing is randomized per process), or every cron
    # run would render the whole site again.
    import subprocess
    import sys

    script = (
        "from aggregator.topics.taxonomy import load_taxonomy\n"
        "from aggregator.publish.model import SiteData\n"
        "from aggregator.publish.site import Builder, environment\n"
        "from datetime import datetime, UTC\n"
        "from aggregator.types import SiteConfig\n"
        "data = SiteData(SiteConfig(), (), (), load_taxonomy(), datetime(2026, 1, 1, tzinfo=UTC))\n"
        "print(Builder(data, environment(None), None, {}).theme)\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_theme_colours_have_enough_contrast_in_light_and_dark_mode() -> None:
    # WCAG AA: 4.5:1 for text. The pairs the default theme puts text on.
    css = (Path(__file__).resolve().parent.parent / "aggregator/templates/static/style.css").read_text()
    light, dark = (
        dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))
        for block in re.findall(r":root\s*\{(.*?)\}", css, re.S)
    )

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def contrast(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    for scheme in (light, dark):
        for text, background in (
            ("fg", "bg"),
            ("muted", "bg"),
            ("link", "bg"),
            ("visited", "bg"),
            ("tag-fg", "tag-bg"),
        ):
            assert contrast(scheme[text], scheme[background]) >= 4.5, (text, background, scheme)


# The build's safety nets, through the command line as cron runs it.


def aggregator(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aggregator", *args], capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def planet(tmp_path: Path, screener: Screener) -> Path:
    """A feeds.yaml beside a database of the demo feeds' posts; the site goes to public/."""
    make_site_db(tmp_path / "aggregator.db", screener).close()
    (tmp_path / "feeds.yaml").write_text(
        "database: aggregator.db\n"
        "site: {title: Test Planet, url: 'https://planet.example.net/', output: public, per_page: 5}\n"
        "digest:\n"
        "  from: Test Planet <planet@example.net>\n"
        "  smtp: {host: 127.0.0.1, port: 2, security: none}\n"
        "  subscribers:\n"
        "    - {email: dana@example.org, frequency: daily, hour: 0}\n"
        "feeds: []\n"
    )
    return tmp_path / "feeds.yaml"


def tree(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file of a folder: its bytes' hash, inode and modification time."""
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_ino,
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def keep_only(database: Path, count: int) -> None:
    """Delete all but the newest count posts, as a damaged or wrong database would have."""
    with sqlite3.connect(database) as db:
        keep = [row[0] for row in db.execute("SELECT id FROM posts ORDER BY published DESC LIMIT ?", [count])]
        marks = ",".join("?" * len(keep))
        for table in ("post_topics", "topic_journal"):
            db.execute(f"DELETE FROM {table} WHERE post_id NOT IN ({marks})", keep)
        db.execute(f"DELETE FROM posts WHERE id NOT IN ({marks})", keep)


def test_a_build_that_would_lose_most_posts_is_refused_and_the_live_site_kept(
    planet: Path, cli_env: dict[str, str]
) -> None:
    site = planet.parent / "public"
    first = aggregator("--config", str(planet), "build", "-v", env=cli_env)
    assert first.returncode == 0, first.stderr
    live = json.loads((site / "build.json").read_text())["posts"]
    assert live > 20 and f": {live} posts" in first.stdout
    before = tree(site)
    keep_only(planet.parent / "aggregator.db", 3)

    refused = aggregator("--config", str(planet), "build", env=cli_env)
    assert refused.returncode == 1
    assert f"the live site holds {live} posts, the new one would hold only 3" in refused.stderr
    assert "--allow-shrink" in refused.stderr and "Traceback" not in refused.stderr
    assert tree(site) == before  # every file: same bytes, same inode, same time
    assert sorted(p.name for p in planet.parent.iterdir() if p.name.startswith(".public")) == [
        ".public.manifest.json"
    ], "no half-written site left beside it"

    allowed = aggregator("--config", str(planet), "build", "--allow-shrink", env=cli_env)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads((site / "build.json").read_text())["posts"] == 3
    assert len(re.findall(r'<article class="post"', (site / "index.html").read_text())) == 3


def test_a_build_that_loses_posts_to_an_override_says_so(planet: Path, cli_env: dict[str, str]) -> None:
    # The refusal blamed a damaged database when overrides.yaml had denied the posts.
    assert aggregator("--config", str(planet), "build", env=cli_env).returncode == 0
    with sqlite3.connect(planet.parent / "aggregator.db") as db:
        feeds = [row[0] for row in db.execute("SELECT DISTINCT feed_url FROM posts")]
        denied = db.execute("SELECT count(*) FROM posts WHERE screen_status = 'kept'").fetchone()[0]
    planet.with_name("overrides.yaml").write_text("deny:\n" + "".join(f"  - feed: {url}\n" for url in feeds))
    refused = aggregator("--config", str(planet), "build", env=cli_env)
    assert refused.returncode == 1
    assert (
        f"{denied} posts are denied by overrides.yaml: if that is why, give --allow-shrink" in refused.stderr
    )


def test_a_site_built_before_build_json_is_counted_by_its_search_index(
    planet: Path, cli_env: dict[str, str]
) -> None:
    site = planet.parent / "public"
    assert aggregator("--config", str(planet), "build", env=cli_env).returncode == 0
    (site / "build.json").unlink()  # as an older version left it
    keep_only(planet.parent / "aggregator.db", 2)
    refused = aggregator("--config", str(planet), "build", env=cli_env)
    assert refused.returncode == 1
    assert re.search(
        r"holds \d\d posts \(counted in its search index\), the new one would hold only 2", refused.stderr
    )
    assert not (site / "build.json").exists()


def test_a_site_with_nothing_to_count_its_posts_by_is_built_with_a_note(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build(store, out, search=False)
    (out / "build.json").unlink()  # no stamp and no search index: an old, or someone else's, site
    report = build(store, out, search=False)
    assert report.notes and "was not checked for lost posts" in report.notes[0]
    assert json.loads((out / "build.json").read_text())["posts"] == report.posts
    assert build(store, out, search=False).notes == ()  # now it has its stamp
    assert build(store, tmp_path / "new", search=False).notes == ()  # a first build is not checked


def test_a_folder_aggregator_did_not_build_is_never_replaced(store: Store, tmp_path: Path) -> None:
    # A build replaces its folder whole: pointed at a web root, or at the project's own
    # folder, it deleted what was there (the database and feeds.yaml with it).
    www = tmp_path / "www"
    (www / "uploads").mkdir(parents=True)
    (www / "uploads" / "report.pdf").write_bytes(b"%PDF-1.7")
    (www / "robots.txt").write_text("User-agent: *\n")
    with pytest.raises(
        OutputError, match=r"not built: the folder holds files that aggregator did not put there"
    ):
        build(store, www, search=False)
    assert (www / "uploads" / "report.pdf").read_bytes() == b"%PDF-1.7" and (www / "robots.txt").exists()
    assert not (www / "index.html").exists() and not list(tmp_path.glob(".www*"))  # nothing written


def test_an_output_folder_that_holds_the_database_or_the_config_is_refused(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    project = tmp_path / "planet"
    project.mkdir()
    config = project / "feeds.yaml"
    feed = "feeds:\n  - url: https://blog.example.net/feed.xml\n    name: Blog\n"
    config.write_text("site:\n  output: .\n" + feed)
    for command in (["check"], ["build"]):
        result = subprocess.run(
            ["aggregator", "--config", str(config), *command], capture_output=True, text=True, env=cli_env
        )
        assert result.returncode == 2, result.stderr
        assert f"site.output: {project} holds the configuration ({config})" in result.stderr
    config.write_text(feed)
    with Store(str(project / "aggregator.db")):
        pass
    result = subprocess.run(
        ["aggregator", "--config", str(config), "build", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=cli_env,
    )
    assert result.returncode == 1 and f"{tmp_path} holds the configuration" in result.stderr
    assert config.exists() and (project / "aggregator.db").exists()
    # A database given by --db inside the output is not the file's fault: other commands
    # work, and build names it.
    (project / "public").mkdir()
    inside = project / "public" / "other.db"
    with Store(str(inside)):
        pass
    given = ["aggregator", "--config", str(config), "--db", str(inside)]
    status = subprocess.run([*given, "status"], capture_output=True, text=True, env=cli_env)
    assert status.returncode == 0, status.stderr
    build = subprocess.run([*given, "build"], capture_output=True, text=True, env=cli_env)
    assert build.returncode == 1 and f"{project / 'public'} holds the database ({inside})" in build.stderr


def test_run_stops_at_the_refusal_and_sends_no_digest(planet: Path, cli_env: dict[str, str]) -> None:
    site = planet.parent / "public"
    assert aggregator("--config", str(planet), "run", "-q", env=cli_env).returncode == 0
    before = tree(site)
    keep_only(planet.parent / "aggregator.db", 1)
    refused = aggregator("--config", str(planet), "run", "-v", env=cli_env)
    assert refused.returncode == 1
    assert "the new one would hold only 1" in refused.stderr and "Traceback" not in refused.stderr
    assert "digests:" not in refused.stdout  # the digest step did not run
    assert tree(site) == before
    allowed = aggregator("--config", str(planet), "run", "-v", "--allow-shrink", env=cli_env)
    assert allowed.returncode == 0, allowed.stderr
    assert "built " in allowed.stdout and "digests:" in allowed.stdout


def page(*body: str) -> str:
    """A page template of the owner's: its body starts on line 3."""
    return '{% extends "base.html" %}\n{% block main %}\n' + "\n".join(body) + "\n{% endblock %}\n"


BROKEN_TEMPLATES = {
    # name: (site/templates files, the file and line the message names, what it says, check's exit)
    "syntax error": (
        {"topics.html": page("<h1>{{ heading }</h1>")},
        "topics.html, line 3",
        "unexpected '}'",
        1,
    ),
    "division by zero": (
        {"topics.html": page("", "<p>{{ 1 / 0 }}</p>")},
        "topics.html, line 4",
        "ZeroDivisionError: division by zero",
        0,  # only rendering finds it
    ),
    "undefined function": (
        {"topics.html": page("{{ shout(heading) }}")},
        "topics.html, line 3",
        "'shout' is undefined",
        0,
    ),
    "missing include": (
        {"topics.html": page("", "", '{% include "aside.html" %}')},
        "topics.html, line 5",
        "no template 'aside.html'",
        1,
    ),
    "error in an included template": (
        {
            "topics.html": page('{% include "_aside.html" %}'),
            "_aside.html": "<aside>\n{{ topics | sum }}\n</aside>\n",
        },
        "_aside.html, line 2",
        "TypeError",
        0,
    ),
}


@pytest.mark.parametrize("case", BROKEN_TEMPLATES)
def test_a_broken_site_template_is_a_message_with_its_file_and_line(
    case: str, planet: Path, cli_env: dict[str, str]
) -> None:
    site = planet.parent / "public"
    assert aggregator("--config", str(planet), "build", env=cli_env).returncode == 0
    before = tree(site)
    files_, place, what, check_status = BROKEN_TEMPLATES[case]
    templates = planet.parent / "site" / "templates"
    templates.mkdir(parents=True)
    for name, text in files_.items():
        (templates / name).write_text(text)

    result = aggregator("--config", str(planet), "build", env=cli_env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3, result.stderr
    assert f"{templates / place}: " in result.stderr and what in result.stderr, result.stderr
    assert "the live site is unchanged" in result.stderr
    assert tree(site) == before
    assert not list(planet.parent.glob(".public.build-*")), "the half-written site is removed"
    if case == "error in an included template":
        assert f"reached from {templates / 'topics.html'}, line 3" in result.stderr

    check = aggregator("--config", str(planet), "check", env=cli_env)
    assert check.returncode == check_status and "Traceback" not in check.stderr
    if check_status:
        assert f"{templates / place}: " in check.stderr and what in check.stderr, check.stderr
    else:
        assert f"templates: {len(files_)} of your own in {templates}, all compile" in check.stdout


def test_an_output_that_is_a_file_is_refused_and_the_file_left_alone(
    planet: Path, cli_env: dict[str, str]
) -> None:
    # site.output pointed at a file by mistake: the build must not swap the site in
    # its place (the file ended up hidden as .NAME.build-XXXX, exit status 0).
    notes = planet.parent / "notes.txt"
    notes.write_text("my notes\n")
    planet.write_text(planet.read_text().replace("output: public", "output: notes.txt"))
    result = aggregator("--config", str(planet), "build", env=cli_env)
    assert result.returncode == 1
    assert result.stderr == (
        f"aggregator: {notes} is a file, not a folder; point site.output (or --out) at a folder "
        "for the site. The file is unchanged\n"
    )
    assert notes.read_text() == "my notes\n"
    assert not [p.name for p in planet.parent.iterdir() if p.name.startswith(".notes.txt")]


def test_a_build_clears_what_killed_builds_left_and_a_full_disk_is_a_message(
    planet: Path, cli_env: dict[str, str]
) -> None:
    import resource
    import signal

    site = planet.parent / "public"
    assert aggregator("--config", str(planet), "build", env=cli_env).returncode == 0
    before = tree(site)
    # Builds killed half-way (SIGKILL, power loss) left their folders beside the site.
    for left in (".public.build-k1ll3d", ".public.old-4242"):
        (planet.parent / left / "page").mkdir(parents=True)
        (planet.parent / left / "page" / "1.html").write_text("half a site\n" * 1000)
    assert aggregator("--config", str(planet), "build", env=cli_env).returncode == 0
    assert sorted(p.name for p in planet.parent.iterdir() if p.name.startswith(".public.")) == [
        ".public.manifest.json"
    ]

    def small_disk() -> None:  # files may not grow past 64 KB: a full disk, as writes see it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    (planet.parent / "site" / "templates").mkdir(parents=True)
    (planet.parent / "site" / "templates" / "_card.html").write_text("{{ post.title }} " * 4000)
    full = subprocess.run(
        ["aggregator", "--config", str(planet), "build"],
        capture_output=True,
        text=True,
        env=cli_env,
        preexec_fn=small_disk,
        stdin=subprocess.DEVNULL,
    )
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    assert f"aggregator: {planet.parent}: cannot write the new site's " in full.stderr
    assert "(File too large); the live site is unchanged" in full.stderr
    assert tree(site) == before
    assert not list(planet.parent.glob(".public.build-*"))


def test_a_post_several_feeds_carry_is_one_story_on_the_river_and_stays_on_each_source_page(
    tmp_path: Path, screener: Screener
) -> None:
    from feedgen import Item, rss

    from aggregator.types import FeedKind

    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    shared = "https://member.example.net/2026/11/pim-sparse-mode-rp-placement/"
    title = "PIM sparse mode: where to put the RP"
    body = "<p>Rendezvous point placement for PIM-SM, anycast RP with MSDP, and IGMPv3 joins.</p>"
    member = rss(Item(title, guid="m1", link=shared, body=body, date="Mon, 23 Nov 2026 08:00:00 GMT"))
    # The team blog republishes it a day later; its podcast's episodes all link to the show's page.
    team = rss(
        Item(title, guid="t1", link=shared, body=body, date="Tue, 24 Nov 2026 08:00:00 GMT"),
        Item(
            "BGP route reflectors in a small ISP",
            guid="t2",
            link="https://team.example.net/rr",
            body="<p>Route reflector clusters, iBGP full mesh and the RR client config.</p>",
        ),
    )
    show = "https://team.example.net/podcast/"
    podcast = rss(
        *(
            Item(
                f"Episode {n}: OSPF area design",
                guid=f"e{n}",
                link=show,
                body=f"<p>OSPF areas, LSA types and stub areas, part {n}.</p>",
                date=f"Sun, {n + 10} Nov 2026 08:00:00 GMT",
                enclosure=f"https://team.example.net/{n}.mp3",
            )
            for n in (1, 2)
        )
    )
    feeds = {
        "https://member.example.net/feed.xml": ("Member Blog", member, FeedKind.BLOG),
        "https://team.example.net/feed.xml": ("Team Blog", team, FeedKind.BLOG),
        "https://team.example.net/podcast.xml": ("Team Podcast", podcast, FeedKind.PODCAST),
    }
    for url, (name, body_bytes, kind) in feeds.items():
        add_feed(store, screener, url, name, body_bytes, kind=kind)
    out = tmp_path / "public"
    build(store, out, search=False)

    river = "".join(p.read_text() for p in sorted(out.glob("page/*.html")))  # page/1.html repeats index.html
    assert river.count(f'href="{shared}"') == 1  # one story, where it was first published
    card = river[river.index(f'href="{shared}"') :].split("</article>")[0]
    assert "Member Blog" in card and "also in" in card and "Team Blog" in card
    # Each source's page keeps its own copy, which names the other feed.
    team_page = (out / "sources/team-blog/index.html").read_text()
    assert f'href="{shared}"' in team_page and "also in" in team_page
    assert f'href="{shared}"' in (out / "sources/member-blog/index.html").read_text()
    # The river's feed has the story once; the podcast's two episodes stay two.
    entries = [e.link for e in feedparser.parse((out / "feeds/all.atom").read_bytes()).entries]
    assert entries.count(shared) == 1
    assert river.count("Episode 1: OSPF area design") == 1 and river.count("Episode 2: OSPF area design") == 1


def test_a_feed_that_copies_a_members_title_and_link_with_its_own_text_does_not_tell_the_story(
    tmp_path: Path, screener: Screener
) -> None:
    # A hijacked member feed republishes another member's post with its own text and an
    # earlier date: the river and the feeds show the copy from the link's own site.
    from feedgen import Item, rss

    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    link = "https://member.example.net/2026/11/rr-design/"
    title = "Our new BGP route reflector design"
    genuine = "<p>Route reflector clusters, the iBGP full mesh we kept, and RR client config.</p>"
    forged = "<p>FORGED: before migrating, turn off RPKI origin validation on every BGP session.</p>"
    member = rss(Item(title, guid="m1", link=link, body=genuine, date="Tue, 24 Nov 2026 08:00:00 GMT"))
    forger = rss(Item(title, guid="f1", link=link, body=forged, date="Mon, 23 Nov 2026 08:00:00 GMT"))
    add_feed(store, screener, "https://member.example.net/feed.xml", "Member Blog", member)
    add_feed(store, screener, "https://forger.example.org/feed.xml", "Forger Blog", forger)
    out = tmp_path / "public"
    build(store, out, search=False)

    river = "".join(p.read_text() for p in sorted(out.glob("page/*.html")))
    assert river.count(f'href="{link}"') == 1
    card = river[river.index(f'href="{link}"') :].split("</article>")[0]
    assert "iBGP full mesh we kept" in card and "FORGED" not in card and "Forger Blog" in card
    (entry,) = [e for e in feedparser.parse((out / "feeds/all.atom").read_bytes()).entries if e.link == link]
    assert "iBGP full mesh we kept" in entry.summary
    # The forger's own source page still shows what it published, naming the other feed.
    assert "FORGED" in (out / "sources/forger-blog/index.html").read_text()


def test_markup_a_post_quotes_as_text_stays_text_in_the_rss_descriptions(
    tmp_path: Path, screener: Screener
) -> None:
    # RSS readers take an item's description as HTML. A post that shows a payload as text
    # ("&lt;img ... onerror=...&gt;") must not become live markup in our RSS feeds.
    from xml.etree import ElementTree

    from feedgen import Item, rss

    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    body = (
        "<p>Testing our WAF in front of the BGP looking glass, we pasted "
        "&lt;img src=x onerror=alert(document.domain)&gt; into the prefix field.</p>"
    )
    doc = rss(
        Item("A WAF rule for the looking glass", guid="w1", link="https://sec.example.net/waf", body=body)
    )
    add_feed(store, screener, "https://sec.example.net/feed.xml", "Sec Blog", doc)
    out = tmp_path / "public"
    build(store, out, search=False)

    items = ElementTree.parse(out / "feeds/all.rss").getroot().iter("item")
    (item,) = [i for i in items if i.findtext("link") == "https://sec.example.net/waf"]
    description = item.findtext("description") or ""
    assert "<img" not in description and "&lt;img src=x onerror=alert(document.domain)&gt;" in description
    parsed = feedparser.parse((out / "feeds/all.rss").read_bytes())
    (entry,) = [e for e in parsed.entries if e.link == "https://sec.example.net/waf"]
    assert "<img" not in entry.summary


def test_a_new_feed_whose_name_slugifies_like_an_old_ones_does_not_take_its_page(
    tmp_path: Path, screener: Screener
) -> None:
    # Two feeds named "Packet Notes" and "Packet-Notes!" share the slug packet-notes. The
    # one added first keeps it: the new one (whose URL sorts first) gets packet-notes-2,
    # so links and bookmarks to the old source's page still show that source.
    from feedgen import Item, rss

    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    out = tmp_path / "public"
    build(store, out, search=False)
    before = (out / "sources/packet-notes/index.html").read_text()
    assert "<h1>Packet Notes</h1>" in before
    later = NOW + timedelta(days=1)
    item = Item(
        "BGP route leak notes from the mirror",
        guid="m1",
        link="https://a-mirror.example.net/m1",
        body="<p>BGP route leaks and RPKI route origin validation on peering routers, prefix filters.</p>",
    )
    add_feed(store, screener, "https://a-mirror.example.net/feed.xml", "Packet-Notes!", rss(item), later)
    build(store, out, search=False, days=1)
    assert (out / "sources/packet-notes/index.html").read_text() == before
    assert "<h1>Packet-Notes!</h1>" in (out / "sources/packet-notes-2/index.html").read_text()


def test_an_episode_plays_its_audio_enclosure_not_the_first_one(
    store: Store, tmp_path: Path, screener: Screener
) -> None:
    # A podcast item with its transcript (a PDF) before its MP3 had the PDF in the
    # episode page's player and as the podcast feed's enclosure; an item with only a
    # PDF was published as an episode with a PDF to play.
    url = "https://pdf-first.example.net/feed.xml"
    store.sync_feeds([FeedConfig(url, "PDF First", FeedKind.PODCAST)], NOW)
    notes = "BGP route reflection, OSPF areas and PIM sparse mode in a regional backbone network."
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>PDF First</title>'
        "<link>https://pdf-first.example.net/</link>"
        "<item><title>Route reflection with transcript</title><guid>t1</guid>"
        f"<description>{notes}</description>"
        "<pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate>"
        '<enclosure url="https://media.example.net/t1.pdf" type="application/pdf" length="500"/>'
        '<enclosure url="https://media.example.net/t1.mp3" type="audio/mpeg" length="9000"/></item>'
        "<item><title>Route reflection slides only</title><guid>t2</guid>"
        f"<description>{notes}</description>"
        "<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>"
        '<enclosure url="https://media.example.net/t2.pdf" type="application/pdf" length="500"/></item>'
        "</channel></rss>"
    ).encode()
    store_feed(store, screener, url, body, NOW, store.start_run(NOW, os.getpid()))
    store.index_topics()
    out = tmp_path / "public"
    build(store, out, search=False)
    pages = {p: p.read_text() for p in (out / "episodes").glob("*.html")}
    transcript = [t for t in pages.values() if "Route reflection with transcript" in t]
    assert len(transcript) == 1
    assert '<audio controls preload="none" src="https://media.example.net/t1.mp3"' in transcript[0]
    assert not [t for t in pages.values() if "slides only" in t or ".pdf" in t]
    podcast = feedparser.parse((out / "feeds/podcasts/all.rss").read_bytes())
    by_title = {e.title: e for e in podcast.entries}
    assert "Route reflection slides only" not in by_title
    enclosures = by_title["Route reflection with transcript"].enclosures
    assert [(e.href, e.type) for e in enclosures] == [("https://media.example.net/t1.mp3", "audio/mpeg")]


def test_search_covers_the_newest_posts_site_search_posts_names(store: Store, tmp_path: Path) -> None:
    # Pagefind rebuilds its index whole, in time and memory that grow with it: a year's
    # planet indexes its newest posts (site.search_posts), and 0 turns search off.
    from dataclasses import replace

    def indexed(out: Path) -> int:
        entry = json.loads((out / "pagefind/pagefind-entry.json").read_text())
        return sum(language["page_count"] for language in entry["languages"].values())

    whole = tmp_path / "whole"
    build_site(store, SITE, load_taxonomy(), whole, NOW)
    assert indexed(whole) > 20  # every post with an address (the default covers 10,000)
    newest = tmp_path / "newest"
    build_site(store, replace(SITE, search_posts=3), load_taxonomy(), newest, NOW)
    assert indexed(newest) == 3
    off = tmp_path / "off"
    build_site(store, replace(SITE, search_posts=0), load_taxonomy(), off, NOW)
    assert not (off / "pagefind").exists()
    assert (off / "index.html").is_file()


def test_a_republished_posts_rfc_links_lead_to_pages_and_archive_pages_are_named(tmp_path: Path) -> None:
    # A team blog republishes a member's post with its own text, which alone cites RFC
    # 4456: its source page linked rfc/4456.html, which only the shown copy's text made.
    from feedgen import Item, rss

    screener = Screener.load(("en",))
    store = Store(tmp_path / "site.db")
    link = "https://member.example.org/rr"
    own = Item(
        "Route reflector design", guid="m1", link=link, body="<p>BGP route reflectors in our core.</p>"
    )
    carried = Item(
        "Route reflector design",
        guid="t1",
        link=link,
        body="<p>BGP route reflection as RFC 4456 defines it, in a two-level design.</p>",
    )
    add_feed(store, screener, "https://member.example.org/feed.xml", "Own Blog", rss(own))
    add_feed(store, screener, "https://team.example.com/feed.xml", "Team Blog", rss(carried))
    for i in range(12):  # enough posts for archive pages
        body = f"<p>OSPF area {i} design note with LSA filtering.</p>"
        add_feed(
            store,
            screener,
            "https://more.example.net/feed.xml",
            "More",
            rss(Item(f"OSPF note {i}", guid=f"o{i}", body=body)),
        )
    out = tmp_path / "public"
    build_site(store, SITE, load_taxonomy(), out, NOW, search=False)
    page = (out / "sources" / "team-blog" / "index.html").read_text()
    assert "../../rfc/4456.html" in page and (out / "rfc" / "4456.html").exists()
    assert (out / "rfc" / "4456.html").read_text().count("Route reflector design") == 1  # one story
    assert "<title>Latest posts: page 1 · Test Planet</title>" in (out / "page" / "1.html").read_text()


def test_a_build_stopped_after_its_swap_leaves_no_manifest_of_the_site_before(
    store: Store, tmp_path: Path
) -> None:
    # Killed after the new site was swapped in and before its manifest was written, a
    # build left the manifest of the site before it: the next build whose inputs were
    # those again carried the swapped-in pages over, stale for good.
    out = tmp_path / "public"
    first = replace(SITE, title="Planet One")
    build_site(store, first, load_taxonomy(), out, NOW, search=False)
    blocked = tmp_path / ".public.manifest.json.tmp"
    blocked.mkdir()  # the manifest cannot be written: as if the build died there
    with pytest.raises(OSError):
        build_site(store, replace(SITE, title="Planet Two"), load_taxonomy(), out, NOW, search=False)
    assert "Planet Two" in (out / "index.html").read_text()  # swapped in
    blocked.rmdir()
    build_site(store, first, load_taxonomy(), out, NOW, search=False)
    stale = [name for name, body in files(out).items() if name.endswith(".html") and b"Planet Two" in body]
    assert stale == []


def test_feeds_carry_the_sites_language_each_author_and_a_quoted_tag_as_text(
    tmp_path: Path, screener: Screener
) -> None:
    from dataclasses import replace
    from xml.etree import ElementTree

    store = make_site_db(tmp_path / "site.db", screener, hostile=False)
    atom_doc = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>Fabric Notes</title><id>urn:fabric</id><updated>2026-11-20T08:00:00Z</updated>"
        b'<entry><title type="html">EVPN &amp;amp; VXLAN '
        b"&amp;lt;i&amp;gt;multihoming&amp;lt;/i&amp;gt;</title>"
        b'<id>urn:fabric:1</id><link href="https://fabric.example.net/esi"/>'
        b"<updated>2026-11-20T08:00:00Z</updated><author><name>Priya</name></author>"
        b"<author><name>Sam</name></author><summary>EVPN multihoming with ESI-LAG on two leaves: "
        b"the DF election, the aliasing routes and what a VTEP does with BUM traffic."
        b"</summary></entry></feed>"
    )
    add_feed(store, screener, "https://fabric.example.net/atom.xml", "Fabric Notes", atom_doc)
    out = tmp_path / "public"
    build_site(store, replace(SITE, language="de"), load_taxonomy(), out, NOW, search=False)

    # The site's language, not always English (languages: [de] in feeds.yaml).
    assert json.loads((out / "feeds/all.json").read_text())["language"] == "de"
    assert ElementTree.parse(out / "feeds/all.rss").getroot().findtext("channel/language") == "de"
    atom = ElementTree.parse(out / "feeds/all.atom").getroot()
    assert atom.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert '<html lang="de">' in (out / "index.html").read_text()
    # RFC 4287: each author an atom:author of their own, not one "Priya, Sam".
    ns = {"a": "http://www.w3.org/2005/Atom"}
    (entry,) = [e for e in atom.iterfind("a:entry", ns) if e.find("a:link", ns).get("href").endswith("/esi")]
    assert [a.findtext("a:name", namespaces=ns) for a in entry.iterfind("a:author", ns)] == ["Priya", "Sam"]
    # A title that quotes a tag as text stays text in RSS readers, which read titles as HTML.
    parsed = feedparser.parse((out / "feeds/all.rss").read_bytes())
    (item,) = [e for e in parsed.entries if e.link == "https://fabric.example.net/esi"]
    assert "<i>" not in item.title and "multihoming" in item.title
    from aggregator.publish.feeds import _rss_title

    # An entity as text ("&lt;ospf&gt;") is markup to a reader too: escaped; "AT&T" is not.
    assert _rss_title("Escaping &lt;ospf&gt; in Jinja") == "Escaping &amp;lt;ospf&amp;gt; in Jinja"
    assert _rss_title("AT&T peering in Dallas") == "AT&T peering in Dallas"
    # Several languages (languages: [de, en]): no feed or page claims one for all posts.
    mixed = tmp_path / "mixed"
    build_site(store, replace(SITE, language=""), load_taxonomy(), mixed, NOW, search=False)
    assert "language" not in json.loads((mixed / "feeds/all.json").read_text())
    assert ElementTree.parse(mixed / "feeds/all.rss").getroot().find("channel/language") is None
    assert '<html lang="en">' in (mixed / "index.html").read_text()  # the interface's
