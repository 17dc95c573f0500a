"""Benchmark of `aggregator build`: a 20,000-post site from 300 sources and 10 topics.

Prints, for each phase, wall time, CPU time, the peak RSS of the process that did it
(and of its children: Pagefind's binary), and files written:

1. a full build of pages and feeds (search index off);
2. the Pagefind search index on its own;
3. a rebuild after 10 new posts (pages, feeds and search index).

Each phase runs in a fresh subprocess of this script, so its peak memory is its own.
Beside our rebuild it counts the files a newest-first pagination (page 1 = newest, as
most generators number pages) would have had to rewrite for the same 10 posts, from
the same site. Not a test: it prints figures and exits 0.

    .venv/bin/python bench/site_bench.py [--posts 20000] [--sources 300] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
TOPICS = (
    "multicast",
    "bgp",
    "igp",
    "kubernetes",
    "mpls-sr",
    "evpn-vxlan",
    "ipv6",
    "dns",
    "automation",
    "security",
)
WORDS = (
    "route reflector peering prefix policy fabric underlay overlay leaf spine tunnel label segment "
    "cluster pod service ingress gateway resolver zone record querier snooping rendezvous source "
    "latency jitter telemetry pipeline automation template inventory firewall policy certificate "
    "convergence adjacency flooding area level metric path session keepalive timer community"
).split()


def make_database(path: Path, posts: int, sources: int, seed: int = 1) -> None:
    from aggregator.store import Store
    from aggregator.types import (
        FeedConfig,
        FeedKind,
        FetchResult,
        Outcome,
        ParsedEntry,
        ParsedFeed,
        StoredVerdict,
    )

    rng = random.Random(seed)
    store = Store(path)
    feeds = [
        FeedConfig(
            f"https://blog{i}.example.net/feed.xml",
            f"Blog {i}",
            FeedKind.PODCAST if i % 30 == 0 else FeedKind.BLOG,
        )
        for i in range(sources)
    ]
    store.sync_feeds(feeds, NOW)
    run = store.start_run(NOW, os.getpid())
    per_feed = math.ceil(posts / sources)
    made = 0
    for index, feed in enumerate(feeds):
        entries, verdicts = [], {}
        for j in range(min(per_feed, posts - made)):
            made += 1
            when = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
            words = " ".join(rng.choice(WORDS) for _ in range(60))
            title = " ".join(rng.choice(WORDS) for _ in range(6)).capitalize()
            body = "".join(f"<p>{' '.join(rng.choice(WORDS) for _ in range(40))}.</p>" for _ in range(4))
            entry = ParsedEntry(
                guid=f"{index}-{j}",
                link=f"https://blog{index}.example.net/posts/{j}",
                title=title,
                authors=(f"Author {index}",),
                published=when,
                updated=None,
                content_html=body,
                summary_html="",
                excerpt=words[:280],
                content_hash=f"h{index}-{j}",
            )
            entries.append(entry)
            chosen = rng.sample(TOPICS, rng.choice((1, 1, 2, 2, 3)))
            tags = [{"topic": t, "score": 0.9, "terms": [t, rng.choice(WORDS)]} for t in chosen]
            verdicts[entry.content_hash] = StoredVerdict(
                keep=True,
                reason=None,
                lang="en",
                score=0.99,
                model_version="bench",
                scores_json="{}",
                tags_json=json.dumps(tags),
                topics=tuple((t, 0.9) for t in chosen),
            )
        parsed = ParsedFeed(
            url=feed.url,
            title=feed.name,
            link=f"https://blog{index}.example.net/",
            language="en",
            entries=tuple(entries),
        )
        store.record(
            run, FetchResult(url=feed.url, status=200, outcome=Outcome.OK), parsed, NOW, None, verdicts, 0.5
        )
    store.index_topics()
    store.close()


def add_posts(path: Path, count: int) -> None:
    from aggregator.store import Store
    from aggregator.types import FetchResult, Outcome, ParsedEntry, ParsedFeed, StoredVerdict

    store = Store(path)
    url = "https://blog1.example.net/feed.xml"
    old = [dict(r) for r in store.db.query("SELECT guid FROM posts WHERE feed_url = ?", [url])]
    run = store.start_run(NOW, os.getpid())
    # The feed as it now reads: its new posts on top of the ones it had.
    entries, verdicts = [], {}
    for j in range(count):
        entry = ParsedEntry(
            guid=f"new-{j}",
            link=f"https://blog1.example.net/new/{j}",
            title=f"New post {j} about route reflectors",
            authors=(),
            published=NOW + timedelta(hours=1 + j),
            updated=None,
            content_html="<p>New.</p>",
            summary_html="",
            excerpt="New post about route reflectors.",
            content_hash=f"new-{j}",
        )
        entries.append(entry)
        verdicts[entry.content_hash] = StoredVerdict(
            True,
            None,
            "en",
            0.99,
            "bench",
            "{}",
            json.dumps([{"topic": "bgp", "score": 0.9, "terms": ["bgp"]}]),
            (("bgp", 0.9),),
        )
    parsed = ParsedFeed(url=url, title="Blog 1", link=None, language="en", entries=tuple(entries))
    store.record(run, FetchResult(url=url, status=200, outcome=Outcome.OK), parsed, NOW, None, verdicts, 0.5)
    store.index_topics()
    store.close()
    assert old  # the feed existed


def phase(name: str, db: Path, out: Path) -> dict[str, object]:
    """Run in a subprocess: one phase, its figures as JSON on stdout."""
    from aggregator.publish.model import load_site
    from aggregator.publish.output import SiteWriter
    from aggregator.publish.search import write_search_index
    from aggregator.publish.site import build_site, episode_slug
    from aggregator.store import Store
    from aggregator.topics.taxonomy import load_taxonomy
    from aggregator.types import SiteConfig

    site = SiteConfig(title="Bench Planet", url="https://planet.example.net/", per_page=50)
    taxonomy = tuple(t for t in load_taxonomy() if t.name in TOPICS)
    store = Store(db)
    start, cpu = time.perf_counter(), time.process_time()
    if name == "search":
        data = load_site(store, site, taxonomy, NOW)
        episodes = {p.id: f"{site.url}episodes/{episode_slug(p)}.html" for p in data.posts if p.episode}
        with SiteWriter(out) as writer:
            records = write_search_index(data.posts, episodes, writer)
        written, extra = len(writer.written), {"records": records}
    else:
        search = name.endswith("+search")
        report = build_site(store, site, taxonomy, out, NOW + timedelta(days=1), search=search)
        written, extra = (
            len(report.written),
            {"pages": report.pages, "unchanged": report.unchanged, "posts": report.posts},
        )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "phase": name,
        "wall": wall,
        "cpu": cpu,
        "peak_mb": own,
        "children_peak_mb": children,
        "written": written,
        **extra,
    }


def newest_first_rewrites(db: Path, per_page: int, new_posts: int) -> int:
    """Files a newest-first pagination rewrites when new_posts arrive: every page of every
    list the posts join shifts by new_posts, so all of its pages change."""
    from aggregator.store import Store

    store = Store(db)
    total = store.db.execute("SELECT count(*) FROM posts").fetchone()[0]
    bgp = store.db.execute("SELECT count(*) FROM post_topics WHERE topic = 'bgp'").fetchone()[0]
    source = store.db.execute(
        "SELECT count(*) FROM posts WHERE feed_url = 'https://blog1.example.net/feed.xml'"
    ).fetchone()[0]
    return sum(math.ceil(n / per_page) for n in (total, bgp, source))


def run_phase(name: str, db: Path, out: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--db", str(db), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database and site")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db, args.out)))
        return
    work = Path(tempfile.mkdtemp(prefix="site-bench-"))
    db, out = work / "bench.db", work / "public"
    start = time.perf_counter()
    make_database(db, args.posts, args.sources)
    took = time.perf_counter() - start
    print(
        f"database: {args.posts} posts, {args.sources} sources, {len(TOPICS)} topics ({took:.1f} s to make)"
    )
    full = work / "with-search"
    rows = [
        run_phase("build", db, out),
        run_phase("search", db, work / "search-only"),
        run_phase("build+search", db, full),
    ]
    add_posts(db, 10)
    rows.append(run_phase("rebuild", db, out))
    rows.append(run_phase("rebuild+search", db, full))
    print(f"\n{'phase':<15} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'child MB':>9} {'written':>8}  notes")
    for row in rows:
        notes = ", ".join(f"{k} {row[k]}" for k in ("posts", "pages", "unchanged", "records") if k in row)
        print(
            f"{row['phase']:<15} {row['wall']:8.2f} {row['cpu']:8.2f} {row['peak_mb']:8.1f} "
            f"{row['children_peak_mb']:9.1f} {row['written']:8d}  {notes}"
        )
    naive = newest_first_rewrites(db, 50, 10)
    build, search, _, rebuild, _ = rows
    print(f"\nA newest-first pagination would rewrite at least {naive} list pages for the same 10 posts.")
    print("\nTargets:")
    checks = [
        ("full build under 8 s", float(build["wall"]), 8.0),  # type: ignore[arg-type]
        ("full build under 400 MB", float(build["peak_mb"]), 400.0),  # type: ignore[arg-type]
        ("rebuild after 10 posts under 1.5 s", float(rebuild["wall"]), 1.5),  # type: ignore[arg-type]
        ("rebuild writes fewer than 300 files", float(rebuild["written"]), 300.0),  # type: ignore[arg-type]
        ("search index under 20 s", float(search["wall"]), 20.0),  # type: ignore[arg-type]
        (
            "search index under 1.5 GB",
            max(float(search["peak_mb"]), float(search["children_peak_mb"])),  # type: ignore[arg-type]
            1500.0,
        ),
    ]
    for description, value, limit in checks:
        print(f"  {'PASS' if value < limit else 'MISS'}  {description}: {value:.2f} (limit {limit:g})")
    if args.keep:
        print(f"\nkept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
