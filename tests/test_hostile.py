"""Hostile feeds served from the loopback server: every expansion shape and markup flood
through a real `aggregator update`, in bounded memory, with a clear word per feed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import Clock, WriteConfig
from feedgen import Item, rss
from hostile import EXPANSION, EXTERNAL_PATHS, SHAPES

from aggregator.feedserver import FeedServer, Route
from aggregator.pipeline import update
from aggregator.store import Store
from aggregator.types import Outcome

SIZE = 1_500_000  # per document: well under fetch.max_bytes, far past what expansion needs
PEAK_LIMIT_MB = 300  # the bound for the whole update over every hostile feed

# Runs `aggregator update` and prints the largest RSS of it and its workers (ru_maxrss of
# the waited-for children: the process and every process it waited for).
MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stdout + done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"""


def test_every_hostile_shape_is_refused_or_read_unexpanded_in_bounded_memory(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    origin = server.url("").rstrip("/")
    for name, shape in SHAPES.items():
        server.routes[f"/{name}.xml"] = Route(body=shape(SIZE, origin))
    for path in EXTERNAL_PATHS:
        leak = b'<!ENTITY leak "SECRET-FROM-THE-SERVER">'
        server.routes[path] = Route(body=leak, content_type="text/plain")
    config = write_config([(f"/{name}.xml", name) for name in SHAPES])
    aggregator = str(Path(sys.executable).parent / "aggregator")
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, aggregator, "--config", config.path, "update", "-v"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=300,
    )
    assert measured.returncode == 0, measured.stderr
    peak_mb = int(measured.stdout.strip()) / 1024
    assert peak_mb < PEAK_LIMIT_MB, f"update peaked at {peak_mb:.0f} MB"
    # Nothing was fetched on a document's say-so: no external entity, DTD or parameter entity.
    assert [path for path, _ in server.requests if path in EXTERNAL_PATHS] == []

    status = subprocess.run(
        [aggregator, "--config", config.path, "status", "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    feeds = {row["name"]: row for row in map(json.loads, status.stdout.splitlines()) if "name" in row}
    error = {name: str(feeds[name].get("last_error") or "") for name in SHAPES}
    note = {name: json.dumps(feeds[name]) for name in SHAPES}
    assert "refused: entity 'lol1' is built from other entities" in error["billion-laughs"]
    assert "refused: entity 'ext' is external" in error["external-entity"]
    assert "refused: entity 'remote' is external" in error["parameter-entity"]
    assert "refused: elements nested more than 128 deep" in error["nested-elements"]
    assert "refused: elements nested more than 128 deep" in error["nested-in-channel"]
    assert error["attribute-flood"].startswith("refused: an element has 115,353 attributes")
    assert "only the first 2,000 entries were read" in note["entry-flood"]
    assert "entity declarations were not expanded" in note["quadratic-blowup"]

    with sqlite3.connect(config.database) as db:
        db.row_factory = sqlite3.Row
        posts = {
            row["feed_url"].rsplit("/", 1)[1].removesuffix(".xml"): row
            for row in db.execute(
                "SELECT feed_url, count(*) AS n, max(length(summary_html) + length(content_html)) AS chars,"
                " group_concat(summary_html) AS html FROM posts GROUP BY feed_url"
            )
        }
    # Read, never expanded: the quadratic blowup's post holds its references as text.
    assert posts["quadratic-blowup"]["chars"] < 2 * SIZE
    assert "x" * 270 not in posts["quadratic-blowup"]["html"]
    # A DTD named by URL is ignored, the post read as usual.
    assert "an ordinary post" in posts["external-dtd"]["html"]
    assert posts["entry-flood"]["n"] == 2000
    # HTML nested past any browser's depth is kept as text; a flood of references is cut.
    assert "&lt;div" not in posts["deep-html"]["html"] and "<div" not in posts["deep-html"]["html"]
    assert posts["reference-flood"]["chars"] <= 600_000
    assert "SECRET-FROM-THE-SERVER" not in "".join(str(row["html"]) for row in posts.values())
    assert set(EXPANSION) <= set(SHAPES)


def test_a_character_reference_to_no_character_costs_only_that_character(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # expat refuses such a reference, so feedparser reads the document leniently; its
    # lenient parser turned each one into an exception that failed the whole feed.
    items = [
        Item("Surrogate &#xD800; in BGP", guid="s1", link="https://blog.example.net/s1"),
        Item("Past Unicode &#x110000; in OSPF", guid="s2", link="https://blog.example.net/s2"),
        Item("Far past it &#99999999999999999999; in IS-IS", guid="s3", link="https://blog.example.net/s3"),
        Item("An ordinary post on EVPN", guid="ok", link="https://blog.example.net/ok"),
    ]
    body = rss(*items).replace(b"&amp;#", b"&#")  # the references as the feed wrote them
    server.routes["/refs.xml"] = Route(body=body)
    config = write_config([("/refs.xml", "Refs")])
    with Store(config.database) as store:
        summary = update(config, store, clock=clock)
        assert [(o.outcome, o.error) for o in summary.outcomes] == [(Outcome.OK, None)]
        titles = sorted(row["title"] for row in store.posts())
    assert titles == [
        "An ordinary post on EVPN",
        "Far past it \ufffd in IS-IS",
        "Past Unicode \ufffd in OSPF",
        "Surrogate \ufffd in BGP",
    ]


def test_a_flood_of_copies_under_fresh_guids_is_stored_once_and_said_so(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # One post repeated 500 times, each copy with its own guid and link: stored once, not
    # 500 times on the river; posts that only share a title and a short body stay apart.
    body = "<p>" + "Anycast RP with MSDP keeps PIM sparse mode up when one RP fails. " * 5 + "</p>"
    copies = [
        Item("PIM anycast RP, explained", guid=f"c{i}", link=f"https://flood.example.net/{i}", body=body)
        for i in range(500)
    ]
    links = [
        Item("Link", guid=f"l{i}", link=f"https://links.example.net/{i}", body="<p>via the BGP list</p>")
        for i in range(3)
    ]
    server.routes["/flood.xml"] = Route(body=rss(*copies, *links))
    config = write_config([("/flood.xml", "Flood")])
    with Store(config.database) as store:
        summary = update(config, store, clock=clock)
        assert [(o.outcome, o.new) for o in summary.outcomes] == [(Outcome.OK, 4)]
        titles = sorted(row["title"] for row in store.posts())
        warning = store.feeds()[0]["last_warning"]
    assert titles == ["Link", "Link", "Link", "PIM anycast RP, explained"]
    assert warning == "499 entries repeat an earlier entry's title and content; each post was read once"
