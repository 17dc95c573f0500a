"""`aggregator demo`: serve the team's sample feeds on 127.0.0.1 and run the pipeline on them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import load_config
from ..dbfile import SQLITE_MAGIC
from ..errors import AggregatorError
from ..feedserver import FeedServer, Route
from ..pipeline import run_update
from ..store import Store
from ..types import Config, RunSummary

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"

# (path served, sample file, name, kind, how it is served)
SAMPLES: list[tuple[str, str | None, str, str, dict[str, Any]]] = [
    ("/feeds/packet-notes.xml", "packet-notes.xml", "Packet Notes", "blog", {"etag": '"pn-1"'}),
    (
        "/feeds/cloud-native-wire.xml",
        "cloud-native-wire.xml",
        "Cloud Native Wire",
        "blog",
        {"gzip": True, "content_type": ATOM, "last_modified": "Tue, 24 Nov 2026 08:00:00 GMT"},
    ),
    ("/old/routing-digest.rdf", "routing-digest.rdf", "Routing Digest", "blog", {"moved": True}),
    ("/feeds/on-the-wire.xml", "on-the-wire-podcast.xml", "On the Wire", "podcast", {"etag": '"otw-25"'}),
    ("/feeds/lab-rat.xml", "hijacked-blog.xml", "Lab Rat Networking", "blog", {}),
    ("/feeds/half-written.xml", "broken-feed.xml", "Half Written Blog", "blog", {}),
    ("/feeds/retired.xml", None, "Retired Blog", "blog", {"status": 410}),
]


def _serve(server: FeedServer) -> None:
    folder = resources.files(__package__).joinpath("feeds")
    for path, sample, _name, _kind, how in SAMPLES:
        if sample is None:
            server.routes[path] = Route(status=int(how.get("status", 404)), body=b"gone")
            continue
        body = folder.joinpath(sample).read_bytes()
        if how.get("moved"):
            target = path.replace("/old/", "/feeds/")
            server.routes[path] = Route(status=301, headers={"Location": target})
            server.routes[target] = Route(body=body)
            continue
        server.routes[path] = Route(
            body=body,
            etag=how.get("etag"),
            last_modified=how.get("last_modified"),
            gzip=bool(how.get("gzip")),
            content_type=str(how.get("content_type", RSS)),
        )


MARK = "# Written by `aggregator demo`: sample feeds served from 127.0.0.1."


def _check_scratch(folder: Path) -> None:
    """Refuse a folder that holds a planet the demo did not write: the demo replaces the
    database and feeds.yaml it finds there (`demo --out .` in /srv/planet would wipe it)."""
    config = folder / "feeds.yaml"
    ours = config.is_file() and config.read_text(encoding="utf-8", errors="replace").startswith(MARK)
    if ours:
        return
    public = folder / "public"  # where the demo builds: a site, or anything else, is not its own
    databases = [p for p in sorted(folder.glob("*.db")) if _is_sqlite(p)]
    candidates = (config, *databases, *sorted(folder.glob("aggregator.db*")))
    foreign = list(dict.fromkeys(str(p.relative_to(folder)) for p in candidates if p.exists()))
    if public.is_dir() and any(public.iterdir()):
        foreign.append("public/")
    if foreign:
        raise AggregatorError(
            f"{folder} holds {', '.join(foreign)}, which `aggregator demo` did not write and "
            "would replace; nothing was changed. Give the demo a folder of its own, such as "
            "--out demo-output"
        )


def _is_sqlite(path: Path) -> bool:
    """Whether path is an SQLite database (a Thumbs.db is not)."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _write_config(folder: Path, server: FeedServer) -> Path:
    lines = [
        MARK,
        "site:",
        "  title: Demo Network Planet",
        "  url: http://localhost:8000/",
        "languages: [en]",
        "fetch:",
        # Only the demo server's own address:port: a redirect from it to any other
        # local address would still be refused.
        f"  allow_private_addresses: ['{server.host}:{server.port}']",
        "database: aggregator.db",
        "feeds:",
    ]
    for path, _sample, name, kind, _how in SAMPLES:
        lines += [f"  - name: {name}", f"    url: {server.url(path)}", f"    kind: {kind}"]
    config = folder / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def run_demo(folder: Path, echo: Callable[[str], None]) -> tuple[Config, list[RunSummary]]:
    """Serve the samples, write a scratch config, run the update twice, return the results."""
    if folder.is_dir():
        _check_scratch(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("aggregator.db*"):
        leftover.unlink()
    summaries = []
    with FeedServer() as server:
        _serve(server)
        config = load_config(_write_config(folder, server))
        echo(f"Serving {len(SAMPLES)} sample feeds on {server.url('/')}")
        for label in ("first run: everything is new", "second run: conditional GET, nothing new"):
            summary = run_update(config)
            summaries.append(summary)
            echo(f"\n== {label}")
            names = {f.url: f.name for f in config.feeds}
            for outcome in summary.outcomes:
                detail = outcome.error or f"{outcome.new} new, {outcome.updated} updated"
                echo(f"  {names[outcome.url]:<22} {outcome.outcome.value:<13} {detail}")
            echo(f"  {summary.line()}")
    with Store(config.database) as store:
        counts = store.db.execute(
            "SELECT status, coalesce(reason, ''), count(*) FROM posts GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    echo("\n== screening")
    for status, reason, count in counts:
        echo(f"  {count:>3} {status}" + (f" ({reason})" if reason else ""))
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    return config, summaries
