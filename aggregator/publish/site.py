"""`aggregator build`: the static site and its feeds, from the database only.

Pages are rendered with Jinja2 (autoescaped) from the default theme packaged in
aggregator/templates, where a template of the same name in the site owner's site/
folder wins. Pagination counts from the oldest post, so new posts change only the
newest pages of a list: older pages keep their bytes and are not rewritten.

Two safety nets: the site's build.json says how many posts it holds, and the next
build refuses, before writing anything, to replace it with one of less than half as
many (a damaged or wrong database); a template that fails is a message naming its
file and line (templates.py), and the live site stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from .. import __version__
from ..config import output_clash, unknown_topics
from ..errors import AggregatorError, ConfigError
from ..store import Store
from ..topics.taxonomy import Topic
from ..types import Config, SiteConfig
from . import feeds
from .health import feed_health
from .model import Post, SiteData, load_site, story_key, week_days, week_of
from .output import OutputError, SiteWriter
from .search import write_search_index
from .templates import TemplateError, render

THEME = Path(str(resources.files("aggregator") / "templates"))
# The policy every page carries: nothing but our own files, no inline script at all.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "media-src https: http:; form-action 'self'; base-uri 'none'"
)
# The search page runs Pagefind: its WebAssembly, and the index it fetches from the site.
SEARCH_CSP = (
    CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'").replace(
        "img-src 'self'",
        "img-src 'self' data:",  # the search box's icon
    )
    + "; connect-src 'self'; worker-src 'self'"
)


@dataclass(frozen=True)
class BuildReport:
    out: Path
    written: tuple[str, ...]  # files new or changed in this build
    unchanged: int
    pages: int
    posts: int
    notes: tuple[str, ...] = ()  # for the person running the build, such as a check not made


class ShrinkRefused(AggregatorError):
    """The new site would hold far fewer posts than the live one: not swapped in."""


@dataclass(frozen=True)
class Listing:
    """A paginated list of posts: the river, a topic, a source."""

    base: str  # folder of its pages, "" for the river, "topics/bgp/" for a topic
    title: str
    posts: tuple[Post, ...]  # newest first
    feed_stem: str | None  # its feeds, such as feeds/bgp
    description: str = ""


def environment(site_dir: Path | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if site_dir is not None and (site_dir / "templates").is_dir():
        loaders.append(jinja2.FileSystemLoader(site_dir / "templates"))
    loaders.append(jinja2.FileSystemLoader(THEME))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # Every text field from a feed is escaped, except in plain-text templates (the
        # email digest's text part), where there is no markup to escape.
        autoescape=jinja2.select_autoescape(
            disabled_extensions=("txt",), default=True, default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = duration
    env.filters["timestamp"] = timestamp
    env.filters["day"] = lambda d: d.strftime("%Y-%m-%d")
    env.filters["longday"] = lambda d: f"{d:%A} {d.day} {d:%B %Y}"
    env.filters["identifiers"] = link_identifiers
    env.filters["episode_slug"] = episode_slug
    return env


def duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timestamp(seconds: float) -> str:
    return duration(int(seconds)) or "0:00"


# Standards and identifiers in plain text: RFC 7911, draft-ietf-idr-rfc8203bis, CVE-2024-1234, AS65000.
IDENTIFIER = re.compile(
    r"\b(?:RFC\s?(?P<rfc>\d{1,5})|(?P<draft>draft-[a-z0-9]+(?:-[a-z0-9]+)+)"
    r"|(?P<cve>CVE-\d{4}-\d{4,7})|AS\s?(?P<asn>\d{1,10}))\b"
)


def _kind(match: re.Match[str]) -> str:
    return next(k for k in ("rfc", "draft", "cve", "asn") if match.group(k))


def identifiers(text: str) -> Iterator[tuple[str, str]]:
    """(kind, value) of each standard or identifier named in text."""
    for match in IDENTIFIER.finditer(text):
        yield _kind(match), match.group(_kind(match))


def identifier_url(kind: str, value: str) -> str:
    """Where an identifier links to; an RFC to our own page (relative to the site root)."""
    if kind == "rfc":
        return f"rfc/{int(value)}.html"  # our page: the posts that cite it
    if kind == "draft":
        return f"https://datatracker.ietf.org/doc/{value}/"
    if kind == "cve":
        return f"https://www.cve.org/CVERecord?id={value}"
    return f"https://bgp.tools/as/{int(value)}"


def link_identifiers(text: str, root: str = "") -> Markup:
    """Escaped text with RFC numbers, drafts, CVE ids and AS numbers made links."""
    out: list[str] = []
    last = 0
    for match in IDENTIFIER.finditer(text):
        kind = _kind(match)
        if kind == "asn" and int(match.group("asn")) >= 2**32:
            continue
        out.append(str(escape(text[last : match.start()])))
        # root is ours (a path of "../", or the card placeholder): added as it is.
        url = identifier_url(kind, match.group(kind))
        href = escape(url) if urlsplit(url).scheme else escape(root) + escape(url)
        out.append(f'<a class="ident" href="{href}">{escape(match.group(0))}</a>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def pages_of(count: int, per_page: int) -> int:
    return max(1, math.ceil(count / per_page))


def page_slice(posts: Sequence[Post], number: int, per_page: int) -> tuple[Post, ...]:
    """Archive page `number` (1 = oldest posts): stable as new posts arrive."""
    oldest_first = len(posts)
    start, end = (number - 1) * per_page, number * per_page
    # posts are newest first: the oldest_first index i is posts[len - 1 - i]
    chosen = [posts[oldest_first - 1 - i] for i in range(start, min(end, oldest_first))]
    return tuple(reversed(chosen))


def root_of(path: str) -> str:
    return "../" * path.count("/")


# Stands for the page's path to the site root in cached post cards. Passed as Markup,
# it reaches the card as it is; no feed text can produce it, as a "<" from a feed is
# always escaped.
ROOT = Markup("<root/>")


def fingerprint(value: Any) -> Any:
    """A hashable summary of a page's inputs: a post by the digest of all its fields,
    a listing without its posts (the page's own posts are passed on their own)."""
    if isinstance(value, Post):
        return value.digest or hashlib.sha1(repr(value).encode(), usedforsecurity=False).hexdigest()
    if isinstance(value, Listing):
        return (value.base, value.title, value.feed_stem, value.description)
    if isinstance(value, list | tuple):
        return tuple(fingerprint(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), fingerprint(v)) for k, v in value.items()))
    return repr(value)


def theme_digest(env: jinja2.Environment, extra: Any) -> str:
    """Changes when any template, the site settings or the taxonomy change."""
    digest = hashlib.sha1(repr(extra).encode(), usedforsecurity=False)
    # static/ sits under the theme folder too, but it is copied, not rendered, and may
    # hold binary files (the podcast artwork PNG).
    for name in sorted(env.list_templates(filter_func=lambda name: not name.startswith("static/"))):
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        digest.update(name.encode() + b"\0" + source.encode())
    return digest.hexdigest()


class Builder:
    def __init__(
        self, data: SiteData, env: jinja2.Environment, writer: SiteWriter, previous: dict[str, str]
    ) -> None:
        self.data = data
        self.env = env
        self.writer = writer
        self.pages = 0
        self.rendered = 0
        self.topics = {t.name: t for t in data.topics}
        self.previous = previous  # path -> inputs digest of the last build
        self.manifest: dict[str, str] = {}
        # Only what pages show of the topics: their keyword sets are frozensets, whose
        # repr changes from one process to the next.
        self.theme = theme_digest(
            env, (data.config, [(t.name, t.description, t.covers) for t in data.topics])
        )
        # Cards rendered at one heading level: post id -> HTML. The pages come level by
        # level (the lists, then the digests' groups), so a change of level empties it:
        # both levels at once held ~240 MB of a 100,000-post build's 530 MB peak.
        self._cards: dict[str, str] = {}
        self._card_level = 0

    def card(self, post: Post, level: int) -> Markup:
        """A post's card, rendered once per heading level; ROOT stands for the root."""
        if level != self._card_level:
            self._cards.clear()
            self._card_level = level
        html = self._cards.get(post.id)
        if html is None:
            html = self._cards[post.id] = render(self.env, "_card.html", post=post, root=ROOT, level=level)
        return Markup(html)

    def render(self, path: str, template: str, **context: Any) -> None:
        """Write a page, unless its inputs are those of the page the last build wrote."""
        self.pages += 1
        key = hashlib.sha1(
            repr((self.theme, template, path, fingerprint(context))).encode(), usedforsecurity=False
        ).hexdigest()
        self.manifest[path] = key
        if self.previous.get(path) == key and self.writer.keep(path):
            return
        root = root_of(path)
        csp = context.pop("csp", CSP)
        level = 3 if "groups" in context else 2
        if "posts" in context:
            context["cards"] = [Markup(self.card(p, level).replace(ROOT, root)) for p in context["posts"]]
        if "groups" in context:
            context["groups"] = [
                (name, [Markup(self.card(p, level).replace(ROOT, root)) for p in group])
                for name, group in context["groups"]
            ]
        html = render(
            self.env,
            template,
            site=self.data.config,
            root=root,
            path=path,
            csp=csp,
            topics=self.data.topics,
            topic_index=self.topics,
            **context,
        )
        self.writer.write(path, html)
        self.rendered += 1

    def listing(self, listing: Listing) -> None:
        per_page = self.data.config.per_page
        total = pages_of(len(listing.posts), per_page)
        newest = listing.posts[:per_page]
        common = {"listing": listing, "feed_stem": listing.feed_stem, "podcast_stem": podcast_stem(listing)}
        self.render(
            f"{listing.base}index.html",
            "list.html",
            posts=newest,
            heading=listing.title,
            # The newest archive page is all on this one; the next older page may
            # repeat a few of its posts, and keeps its address as posts arrive.
            older=f"page/{total - 1}.html" if total > 1 else None,
            newer=None,
            page_number=None,
            **common,
        )
        for number in range(1, total + 1):
            self.render(
                f"{listing.base}page/{number}.html",
                "list.html",
                posts=page_slice(listing.posts, number, per_page),
                heading=f"{listing.title}: page {number}",
                older=f"{number - 1}.html" if number > 1 else None,
                newer=f"{number + 1}.html" if number < total else "../index.html",
                page_number=number,
                **common,
            )


def site_folder(config: Config) -> Path | None:
    """The site owner's site/ folder beside the configuration (templates/, static/), if any."""
    folder = Path(config.path).resolve().parent / "site"
    return folder if folder.is_dir() else None


def build_from_config(
    config: Config, out: Path | None = None, now: datetime | None = None, allow_shrink: bool = False
) -> BuildReport:
    """Lock the database, read it, build the site into out (default: site.output)."""
    from ..cards import MODEL_DIR
    from ..lock import RunLock
    from ..settle import settle_from_config
    from ..topics.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(MODEL_DIR / "topics.yaml")
    unknown = unknown_topics(config, {t.name for t in taxonomy}, subscribers=False)
    if unknown:
        raise ConfigError(config.path, unknown)
    target = (out or Path(config.site.output)).resolve()
    clash = output_clash(target, Path(config.path), Path(config.database))
    if clash:
        raise OutputError(clash)
    now = now or datetime.now(UTC)
    with RunLock(config.database), Store(config.database) as store:
        settle_from_config(config, store, now)  # a run killed before its end left them undone
        return build_site(
            store,
            config.site,
            taxonomy,
            target,
            now,
            site_folder(config),
            allow_shrink=allow_shrink,
            configured={f.url: f.topics for f in config.feeds},
        )


def build_site(
    store: Store,
    site_config: SiteConfig,
    taxonomy: tuple[Topic, ...],
    out: Path,
    now: datetime,
    site_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    search: bool = True,
    allow_shrink: bool = False,
    configured: Mapping[str, tuple[str, ...]] | None = None,
) -> BuildReport:
    """Render the whole site into out (swapped in whole when done); search: also the
    Pagefind index. Refuses (ShrinkRefused, before writing anything) to replace a live
    site with one of less than half its posts, unless allow_shrink. configured: the feed
    URLs feeds.yaml lists, with their topic hints (None: every stored feed). Feeds no
    longer configured leave the sources list, the OPML and the health pages; their posts
    stay where they were."""
    data = load_site(store, site_config, taxonomy, now, configured)
    live = live_posts(out)
    if live is not None and not allow_shrink and len(data.posts) * 2 < live.posts:
        raise ShrinkRefused(_shrink_message(out, live, len(data.posts), store.path, store.denied_kept()))
    manifest_path = out.parent / f".{out.name}.manifest.json"
    if live is None and _has_files(out) and not manifest_path.exists():
        # Not a site this tool built: a web root, a home folder, a project. The build
        # would replace it whole, and its files with it.
        raise OutputError(_foreign_message(out))
    notes = (_unchecked_note(out),) if live is None and _has_files(out) else ()
    env = environment(site_dir)
    previous = _read_manifest(manifest_path) if out.is_dir() else {}
    try:
        builder, writer = _build(data, env, out, store, previous, site_dir, progress, search, manifest_path)
    except TemplateError as exc:
        raise TemplateError(f"{exc}; the live site is unchanged") from None
    _write_manifest(manifest_path, builder.manifest)
    return BuildReport(out, tuple(writer.written), writer.kept, builder.pages, len(data.posts), notes)


def _build(
    data: SiteData,
    env: jinja2.Environment,
    out: Path,
    store: Store,
    previous: dict[str, str],
    site_dir: Path | None,
    progress: Callable[[str], None] | None,
    search: bool,
    manifest_path: Path,
) -> tuple[Builder, SiteWriter]:
    """Every page, feed and file of the site, written beside out and swapped in;
    manifest_path (the live site's manifest) removed just before the swap."""
    with SiteWriter(out) as writer:
        builder = Builder(data, env, writer, previous)
        _static(writer, site_dir)
        listings = _listings(data)
        for listing in listings:
            builder.listing(listing)
        _digests(builder, data)
        _episodes(builder, data)
        _rfcs(builder, data)
        builder.render("topics/index.html", "topics.html", counts=_topic_counts(data))
        builder.render(
            "sources/index.html", "sources.html", sources=data.current_sources, counts=_source_counts(data)
        )
        _feeds(writer, data, store, listings)
        builder.render("search/index.html", "search.html", csp=SEARCH_CSP)
        health, last_run = feed_health(store, data)
        builder.render(
            "health/index.html",
            "health.html",
            feeds=health,
            attention=[f for f in health if f.problems],
            last_run=last_run,
        )
        for feed in health:
            builder.render(f"health/{feed.slug}.html", "feed_health.html", feed=feed)
        if search and data.config.search_posts:
            # The newest posts only (site.search_posts): Pagefind rebuilds its index
            # whole, in time and memory that grow with it. Reindexed only when one of
            # them changed: Pagefind takes seconds even for a few.
            indexed = [p for p in data.posts if p.link or p.episode][: data.config.search_posts]
            key = hashlib.sha1(
                repr(("search", fingerprint(indexed), data.config.url)).encode(), usedforsecurity=False
            ).hexdigest()
            builder.manifest[SEARCH_KEY] = key
            if previous.get(SEARCH_KEY) != key or not writer.keep_tree("pagefind"):
                base = data.config.url
                episodes = {p.id: f"{base}episodes/{episode_slug(p)}.html" for p in indexed if p.episode}
                write_search_index(indexed, episodes, writer)
        if progress:
            progress(f"{builder.pages} pages, {builder.rendered} rendered")
        _stamp(writer, out, len(data.posts), data.built)
        # The manifest describes the live site; from the swap on, it would describe a
        # site that is gone. Removed now and written after the swap: a build killed in
        # between leaves none, and the next one renders every page, instead of carrying
        # over pages of a site that no longer exists.
        manifest_path.unlink(missing_ok=True)
    return builder, writer


FORMER_SOURCE = (
    "No longer followed: this feed was removed from the site's feeds. Its posts stay in the archive."
)

SEARCH_KEY = "pagefind/"  # the manifest's entry for the search index as a whole


def _read_manifest(path: Path) -> dict[str, str]:
    """What the last build's pages were made from (missing or damaged: rebuild all)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_manifest(path: Path, manifest: dict[str, str]) -> None:
    # Beside the site, not in it: nothing a visitor needs. Written after the swap (and
    # removed just before it); if it is lost, the next build renders every page again and
    # finds them unchanged.
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    os.replace(scratch, path)


STAMP = "build.json"  # in the site: its post count, read back by the next build


@dataclass(frozen=True)
class LiveSite:
    """What the site being replaced holds."""

    posts: int
    counted_by: str  # where the count comes from


def live_posts(out: Path) -> LiveSite | None:
    """How many posts the live site in out holds: from its build.json, else (a site an
    older version built) the posts in its search index; None when neither says."""
    stamp = _read_json(out / STAMP)
    if isinstance(stamp, dict) and type(stamp.get("posts")) is int:
        return LiveSite(stamp["posts"], STAMP)
    entry = _read_json(out / "pagefind" / "pagefind-entry.json")
    languages = entry.get("languages") if isinstance(entry, dict) else None
    if isinstance(languages, dict) and languages:
        counts = [lang.get("page_count") if isinstance(lang, dict) else None for lang in languages.values()]
        if all(type(count) is int for count in counts):
            return LiveSite(sum(counts), "its search index")  # type: ignore[arg-type]
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _shrink_message(out: Path, live: LiveSite, new: int, database: str, denied: int = 0) -> str:
    counted = "" if live.counted_by == STAMP else f" (counted in {live.counted_by})"
    cause = (
        f"  {denied} {'post is' if denied == 1 else 'posts are'} denied by overrides.yaml: if that is "
        "why, give --allow-shrink. "
        "Else a damaged, empty or wrong database"
        if denied
        else "  A damaged, empty or wrong database"
    )
    return (
        f"{out}: not replaced: the live site holds {live.posts} posts{counted}, the new one would "
        f"hold only {new} (read from {database}): more than half of the posts would be lost.\n"
        f"{cause} is the usual cause: check it with `aggregator status` "
        "and restore it from a backup. If the posts were removed on purpose, give --allow-shrink "
        "to `aggregator build` (or `run`). The live site is unchanged."
    )


def _foreign_message(out: Path) -> str:
    names = sorted(p.name for p in out.iterdir())
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"{out}: not built: the folder holds files that aggregator did not put there ({shown}), "
        "and a build replaces the folder's whole contents. Build into an empty or new folder "
        "(site.output in feeds.yaml, or --out), or move those files away first. Nothing was changed."
    )


def _unchecked_note(out: Path) -> str:
    return (
        f"note: {out} has no {STAMP} nor a search index to count its posts by (an older "
        "version built it?): this build was not checked for lost posts; the next one will be"
    )


def _stamp(writer: SiteWriter, out: Path, posts: int, built: datetime) -> None:
    """build.json: the site's post count, when it last changed and by which version.
    Kept as it is (same bytes, same time) when nothing else in the site changed."""
    old = _read_json(out / STAMP)
    if (
        not writer.written
        and isinstance(old, dict)
        and (old.get("posts"), old.get("version")) == (posts, __version__)
        and writer.keep(STAMP)
    ):
        return
    stamp = {
        "generator": "aggregator",
        "version": __version__,
        "built": built.isoformat(timespec="seconds"),
        "posts": posts,
    }
    writer.write(STAMP, json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def _static(writer: SiteWriter, site_dir: Path | None) -> None:
    files: dict[str, bytes] = {}
    for base in (THEME / "static", site_dir / "static" if site_dir else None):
        if base is None or not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file():
                files[f"static/{path.relative_to(base).as_posix()}"] = path.read_bytes()
    for name, content in files.items():  # the owner's file of the same name wins
        writer.write(name, content)


def _listings(data: SiteData) -> list[Listing]:
    listings = [Listing("", "Latest posts", data.posts, "feeds/all", data.config.description)]
    by_topic: dict[str, list[Post]] = defaultdict(list)
    by_source: dict[str, list[Post]] = defaultdict(list)
    for post in data.posts:
        for name in post.topic_names:
            by_topic[name].append(post)
    for post in data.own_posts:
        by_source[post.source_slug].append(post)
    for topic in data.topics:
        listings.append(
            Listing(
                f"topics/{topic.name}/",
                topic.name,
                tuple(by_topic[topic.name]),
                f"feeds/{topic.name}",
                topic.description,
            )
        )
    for source in data.sources:
        posts = tuple(by_source[source.slug])
        if source.current:
            listings.append(Listing(f"sources/{source.slug}/", source.name, posts, None, ""))
        elif posts:  # a former member: its page stays, for the links from its posts
            listings.append(Listing(f"sources/{source.slug}/", source.name, posts, None, FORMER_SOURCE))
    return listings


def _topic_counts(data: SiteData) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for post in data.posts:
        for name in post.topic_names:
            counts[name] += 1
    return counts


def _source_counts(data: SiteData) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for post in data.own_posts:
        counts[post.source_slug] += 1
    return counts


def _digests(builder: Builder, data: SiteData) -> None:
    days: dict[date, list[Post]] = defaultdict(list)
    for post in data.posts:
        days[post.published.date()].append(post)
    ordered = sorted(days)
    weeks: dict[str, list[Post]] = defaultdict(list)
    for day in ordered:
        weeks[week_of(day)] += days[day]
    for i, day in enumerate(ordered):
        builder.render(
            f"digests/{day:%Y-%m-%d}.html",
            "digest.html",
            heading=f"{day:%A} {day.day} {day:%B %Y}",
            groups=_by_topic(days[day], data),
            count=len(days[day]),
            previous=f"{ordered[i - 1]:%Y-%m-%d}.html" if i else None,
            following=f"{ordered[i + 1]:%Y-%m-%d}.html" if i + 1 < len(ordered) else None,
            week=f"{week_of(day)}.html",
        )
    week_names = sorted(weeks)
    for i, week in enumerate(week_names):
        first, last = week_days(week)
        builder.render(
            f"digests/{week}.html",
            "digest.html",
            heading=f"Week {week}: {first:%d %b} to {last:%d %b %Y}",
            groups=_by_topic(weeks[week], data),
            count=len(weeks[week]),
            previous=f"{week_names[i - 1]}.html" if i else None,
            following=f"{week_names[i + 1]}.html" if i + 1 < len(week_names) else None,
            week=None,
        )
    builder.render(
        "digests/index.html",
        "digests.html",
        weeks=[
            (w, week_days(w), sorted((d for d in ordered if week_of(d) == w), reverse=True))
            for w in reversed(week_names)
        ],
        counts={d: len(days[d]) for d in ordered},
    )


def _by_topic(posts: Sequence[Post], data: SiteData) -> list[tuple[str, list[Post]]]:
    """Posts grouped under their first topic, in taxonomy order; untagged ones last."""
    groups: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        groups[post.topic_names[0] if post.topics else ""].append(post)
    order = [t.name for t in data.topics] + [""]
    return [(name, groups[name]) for name in order if groups.get(name)]


def _episodes(builder: Builder, data: SiteData) -> None:
    for post in data.own_posts:
        if post.episode is not None:
            builder.render(f"episodes/{episode_slug(post)}.html", "episode.html", post=post)


def episode_slug(post: Post) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", post.id)


def _rfcs(builder: Builder, data: SiteData) -> None:
    # Every copy's text, not only the shown one's: a source's page shows its own copy of
    # a story another feed also carries, and its RFC links need their pages. A story is
    # listed once under an RFC, by its shown copy when that one cites it too.
    shown = {post.id for post in data.posts}
    cited: dict[int, list[Post]] = defaultdict(list)
    listed: dict[int, dict[tuple[str | None, str], int]] = defaultdict(dict)
    for post in sorted(data.own_posts, key=lambda p: p.id not in shown):
        numbers = {int(v) for kind, v in identifiers(f"{post.title} {post.excerpt}") if kind == "rfc"}
        story = story_key(post) if post.also else (post.id, "")
        for number in numbers:
            if story not in listed[number]:
                listed[number][story] = len(cited[number])
                cited[number].append(post)
    for posts in cited.values():
        posts.sort(key=lambda p: (-p.published.timestamp(), p.id))  # newest first, as the river
    for number, posts in sorted(cited.items()):
        builder.render(f"rfc/{number}.html", "rfc.html", number=number, posts=posts)
    builder.render("rfc/index.html", "rfcs.html", cited=sorted((n, len(p)) for n, p in cited.items()))


def podcast_stem(listing: Listing) -> str | None:
    """feeds/podcasts/<name> of a listing with a feed and episodes among its posts: its
    podcast feed (RSS with the tags podcast apps need), else None."""
    if listing.feed_stem is None or not any(p.episode for p in listing.posts):
        return None
    return "feeds/podcasts/" + listing.feed_stem.removeprefix("feeds/")


def _feeds(writer: SiteWriter, data: SiteData, store: Store, listings: Sequence[Listing]) -> None:
    specs = [
        feeds.FeedSpec(
            f"{data.config.title}: {listing.title}" if listing.base else data.config.title,
            listing.base,
            listing.feed_stem,
            listing.posts[: feeds.FEED_ENTRIES],
        )
        for listing in listings
        if listing.feed_stem
    ]
    contents = store.post_contents(p.id for spec in specs for p in spec.posts)
    for spec in specs:
        writer.write(spec.stem + ".atom", feeds.atom(spec, data, contents))
        writer.write(spec.stem + ".rss", feeds.rss(spec, data, contents))
        writer.write(spec.stem + ".json", feeds.json_feed(spec, data, contents))
    for listing in listings:
        stem = podcast_stem(listing)
        if stem is None:
            continue
        episodes = tuple(p for p in listing.posts if p.episode)[: feeds.FEED_ENTRIES]
        # The show's name in podcast apps: "Planet: podcast episodes", "Planet: BGP episodes".
        what = listing.title if listing.base else "podcast"
        spec = feeds.FeedSpec(f"{data.config.title}: {what} episodes", listing.base, stem, episodes)
        writer.write(spec.stem + ".rss", feeds.podcast_rss(spec, data, contents))
    writer.write("feeds/sources.opml", feeds.opml(data.current_sources, data))
