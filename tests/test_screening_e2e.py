"""Screening inside real runs: hijacked feeds, quarantine, overrides, and the CLI around them."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

from click.testing import CliRunner
from conftest import Clock, WriteConfig
from feedgen import Item, rss

from aggregator.baseline import Baseline
from aggregator.cli import cli
from aggregator.feedserver import FeedServer, Route
from aggregator.label import LabelContext, label_rows
from aggregator.pipeline import update
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.types import Config

DEMO = Path(__file__).parent.parent / "aggregator" / "demo" / "feeds"

NETWORKING = [
    (
        "Route reflector clusters in a regional ISP",
        "How we split our iBGP mesh into two route reflector "
        "clusters, kept the next hops reachable and tested failover of each reflector.",
    ),
    (
        "OSPF area design for a campus core",
        "Why we kept area 0 small, summarised the building areas and "
        "used stub areas for the access layer switches.",
    ),
    (
        "Debugging IGMP snooping on access switches",
        "The querier was missing on the video VLAN, so the "
        "switches flooded multicast to every port until we configured one.",
    ),
    (
        "RPKI route origin validation at our edge",
        "We now drop invalid routes from transit and peers; this "
        "post covers the validators we run and how we monitor them.",
    ),
    (
        "EVPN multihoming with ESI LAG",
        "Dual-homing servers to two leaves without MLAG: the Ethernet segment, "
        "designated forwarder election and the failure cases we tested.",
    ),
    (
        "Cilium network policies for namespaces",
        "Default deny between namespaces in our Kubernetes clusters, "
        "with Cilium policies for DNS and for the ingress controller.",
    ),
]
INDONESIAN = [
    (
        "Prediksi togel hongkong malam ini",
        "Angka main dan paito warna terlengkap untuk para pemain setia "
        "yang ingin menang besar malam ini dengan prediksi jitu.",
    ),
    (
        "Cara merawat murai batu agar rajin berkicau",
        "Burung murai batu perlu makanan yang cukup, kandang "
        "yang bersih dan dijemur setiap pagi supaya suaranya tetap bagus.",
    ),
    (
        "Legenda Danau Toba dan asal usulnya",
        "Cerita rakyat dari Sumatera Utara ini mengisahkan seorang "
        "petani yang menangkap ikan ajaib lalu melanggar janjinya.",
    ),
    (
        "Bocoran angka keluaran sgp hari ini",
        "Data keluaran lengkap dan prediksi angka jitu untuk pasaran "
        "singapura, dijamin akurat untuk para pemain togel online.",
    ),
]


def items(rows: list[tuple[str, str]], start: int, day: int = 1) -> list[Item]:
    return [
        Item(
            title,
            guid=f"g{start + i}",
            link=f"https://lab.example.net/{start + i}/",
            date=f"Mon, {day + i // 8:02d} Nov 2026 {8 + i % 8:02d}:00:00 GMT",
            body=f"<p>{text}</p>",
        )
        for i, (title, text) in enumerate(rows)
    ]


def test_hijacked_demo_feed_keeps_networking_and_drops_indonesian_spam(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/lab-rat.xml"] = Route(body=(DEMO / "hijacked-blog.xml").read_bytes())
    config = write_config(["/lab-rat.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        rows = list(store.db.query("SELECT title, status, reason, lang, model_version FROM posts"))
    kept = [r for r in rows if r["status"] == "kept"]
    dropped = [r for r in rows if r["status"] == "dropped"]
    assert len(kept) == 3 and len(dropped) == 5
    assert {r["reason"] for r in dropped} == {"non_english"}
    assert {r["lang"] for r in dropped} == {"id"}
    assert all(r["model_version"].startswith("screen-") for r in rows)


def hijacked(
    server: FeedServer, write_config: WriteConfig, clock: Clock, overrides: str = ""
) -> tuple[Config, list[Item], list[Item]]:
    """Lab Notes: 12 good posts (an established baseline), then, an hour later, six
    Indonesian pages and one good post; overrides: an overrides.yaml to write before the
    second update. The configuration, the good posts and the hijack's."""
    history = items(NETWORKING * 2, 0)
    server.routes["/f.xml"] = Route(body=rss(*history))
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        hijack = items(INDONESIAN, 100, day=20) + items(NETWORKING[:1], 200, day=23)
        server.routes["/f.xml"] = Route(body=rss(*history, *hijack))
        if overrides:
            Path(config.path).with_name("overrides.yaml").write_text(overrides)
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
    return config, history, hijack


def test_an_established_feed_that_turns_to_spam_is_quarantined_and_released(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    config, history, hijack = hijacked(server, write_config, clock)
    with Store(config.database) as store:
        feed = store.feeds()[0]
        assert feed["quarantined"] is not None
        statuses = {r["title"]: (r["status"], r["reason"]) for r in store.posts()}
        assert statuses[INDONESIAN[0][0]] == ("dropped", "non_english")
        # The first good-looking post after the hijack is held, not published.
        held = [p for p in store.posts() if p["status"] == "held"]
        assert [(p["link"], p["reason"]) for p in held] == [("https://lab.example.net/200/", "feed_drift")]
        held_id = held[0]["id"]
    runner = CliRunner()
    # explain names the stage that held it: the feed's baseline, not the model that
    # found it networking; and a held post has no published topics.
    explained = runner.invoke(cli, ["--config", config.path, "explain", held_id]).output
    assert "status: held (feed_drift)" in explained
    assert "  decided by: the feed's baseline: " in explained
    assert "  screening decided by: networking model: " in explained
    assert "published topics: none; the post is not published" in explained
    assert "with ambiguous words only" in explained  # all three thresholds are shown
    status = runner.invoke(cli, ["--config", config.path, "status"])
    assert "QUARANTINED" in status.output and "new posts held until `aggregator release`" in status.output
    as_json = json.loads(runner.invoke(cli, ["--config", config.path, "status", "--json"]).output)
    assert as_json["state"] == "quarantined" and as_json["next_fetch"] is None  # still fetched
    released = runner.invoke(cli, ["--config", config.path, "release", "Lab Notes"])
    assert released.exit_code == 0 and "1 held post(s) published" in released.output
    with Store(config.database) as store:
        assert store.feeds()[0]["quarantined"] is None
        assert not [p for p in store.posts() if p["status"] == "held"]
    # Released twice by mistake: it says there was nothing to release, not "quarantine ended".
    again = runner.invoke(cli, ["--config", config.path, "release", "Lab Notes"])
    assert again.exit_code == 0
    assert again.output == "Lab Notes: not in quarantine, and no post of it is held; nothing to release\n"
    # Hijacked again later: the first incident's dropped pages do not count as the feed's
    # usual (they took its keep rate under 80%, and no second quarantine came).
    with Store(config.database) as store:
        second = items(INDONESIAN, 300, day=24)
        server.routes["/f.xml"] = Route(body=rss(*history, *hijack, *second))
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        assert store.feeds()[0]["quarantined"] is not None


def numbered(count: int, start: int) -> list[tuple[str, str]]:
    """count distinct networking posts (the NETWORKING texts under numbered titles)."""
    return [(f"Lab {start + i}: {NETWORKING[i % 6][0]}", NETWORKING[i % 6][1]) for i in range(count)]


def test_a_flood_of_new_posts_puts_an_established_feed_into_quarantine(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A blog of a dozen posts a month, then 60 new ones dated this week in one fetch (a
    # hijacked WordPress dumping generated pages): all held, none tops the river.
    history = items(NETWORKING * 2, 0)
    server.routes["/f.xml"] = Route(body=rss(*history))
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        dump = items(numbered(60, 100), 100, day=18)
        server.routes["/f.xml"] = Route(body=rss(*history, *dump))
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        feed = store.feeds()[0]
        assert feed["quarantined"] is not None
        assert feed["quarantine_reason"].startswith(
            "a flood: 60 new posts dated in the last 7 days (or undated) in one fetch, "
            "against 12 in the 30 days"
        )
        new = [p for p in store.posts() if int(p["link"].rsplit("/", 2)[-2]) >= 100]
        assert len(new) == 60 and {p["status"] for p in new} <= {"held", "dropped"}
        assert sum(p["status"] == "held" for p in new) >= 50


def test_a_busy_feeds_own_pace_is_no_flood(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # 80 posts in its first month: 60 more in one fetch is this feed's pace, not a flood.
    history = items(numbered(80, 0), 0, day=1)
    server.routes["/f.xml"] = Route(body=rss(*history))
    config = write_config([("/f.xml", "Busy Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        server.routes["/f.xml"] = Route(body=rss(*history, *items(numbered(60, 100), 100, day=18)))
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        assert store.feeds()[0]["quarantined"] is None
        assert not [p for p in store.posts() if p["status"] == "held"]


def test_overrides_apply_on_the_next_run_and_stay(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    good = items(NETWORKING[:2], 0)
    bad = items(INDONESIAN[:1], 50)
    server.routes["/f.xml"] = Route(body=rss(*good, *bad))
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        dropped_id = next(p["id"] for p in store.posts() if p["status"] == "dropped")
        Path(config.path).with_name("overrides.yaml").write_text(
            f"allow:\n  - post: {dropped_id}\ndeny:\n  - url: 'https://lab.example.net/1/'\n"
        )
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        by_link = {p["link"]: p for p in store.posts()}
        assert by_link["https://lab.example.net/50/"]["status"] == "kept"
        assert by_link["https://lab.example.net/50/"]["override"] == "allow"
        assert by_link["https://lab.example.net/1/"]["status"] == "dropped"
        # Fetched again unchanged: the allowed post stays allowed.
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock, force=True)
        assert {p["link"]: p["status"] for p in store.posts()}["https://lab.example.net/50/"] == "kept"
        # Removing the entry gives the post back its screening verdict.
        Path(config.path).with_name("overrides.yaml").write_text("")
        update(config, store, clock=clock)
        assert {p["link"]: p["status"] for p in store.posts()}["https://lab.example.net/50/"] == "dropped"


def test_a_build_after_a_run_that_never_finished_applies_the_overrides_itself(
    server: FeedServer, write_config: WriteConfig, clock: Clock, tmp_path: Path
) -> None:
    # The posts of a run killed before its end are stored as screening left them: a
    # build (or digest) that follows must not publish a post the owner denied.
    server.routes["/f.xml"] = Route(body=rss(*items(NETWORKING[:2], 0)))
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        assert {p["status"] for p in store.posts()} == {"kept"}
    Path(config.path).with_name("overrides.yaml").write_text("deny:\n  - url: 'https://lab.example.net/1/'\n")
    out = tmp_path / "public"
    result = CliRunner().invoke(cli, ["--config", config.path, "build", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    river = (out / "feeds/all.atom").read_text()
    assert "https://lab.example.net/0/" in river and "https://lab.example.net/1/" not in river
    with Store(config.database) as store:
        assert {p["link"]: p["override"] for p in store.posts()}["https://lab.example.net/1/"] == "deny"
    # The entry removed, the next build gives the post back (the files changed since).
    Path(config.path).with_name("overrides.yaml").write_text("")
    result = CliRunner().invoke(cli, ["--config", config.path, "build", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "https://lab.example.net/1/" in (out / "feeds/all.atom").read_text()


def test_dropped_and_explain_show_the_reason(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/f.xml"] = Route(body=rss(*items(NETWORKING[:1], 0), *items(INDONESIAN[:1], 9)))
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
    runner = CliRunner()
    listing = runner.invoke(cli, ["--config", config.path, "dropped", "--reason", "non_english"])
    assert listing.exit_code == 0
    assert "non_english" in listing.output and INDONESIAN[0][0] in listing.output
    post_id = listing.output.splitlines()[1].split()[0]
    explained = runner.invoke(cli, ["--config", config.path, "explain", post_id[:12].upper()])
    assert explained.exit_code == 0, explained.output
    assert "status: dropped (non_english)" in explained.output
    assert "language: id (decided by function words (id)" in explained.output
    assert "decided by: language: id" in explained.output
    assert "terms behind the score" in explained.output
    assert "networking terms that count:" in explained.output
    assert "general-computing terms (evidence against):" in explained.output
    none = runner.invoke(cli, ["--config", config.path, "dropped", "--reason", "spam"])
    assert "No dropped or held posts match." in none.output
    # SQL's wildcards typed as an id are not hex digits: refused, not matched as patterns.
    for typed in ("%", "_", post_id[:3] + "%"):
        wild = runner.invoke(cli, ["--config", config.path, "explain", typed])
        assert wild.exit_code == 1 and f"{typed!r} is not a post id" in wild.output, wild.output
    unknown = runner.invoke(cli, ["--config", config.path, "explain", "ffffffffffffffffffff"])
    assert unknown.exit_code == 1 and "no post with id 'ffffffffffffffffffff'" in unknown.output


def test_label_prints_one_json_line_per_input_and_nothing_else(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    lines = [
        {"id": "a", "title": "Kubernetes Gateway API", "summary": ""},
        {"id": "b", "title": INDONESIAN[0][0], "summary": INDONESIAN[0][1]},
        {"id": "c", "title": "Best online slots 2026", "summary": "Free spins and a bonus code today."},
        {"id": "d", "title": NETWORKING[0][0], "summary": NETWORKING[0][1], "lang_hint": "en"},
    ] * 300
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = subprocess.run(
        ["aggregator", "--config", str(tmp_path / "none.yaml"), "label", str(path)],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    first = {row["id"]: row for row in out[:4]}
    assert first["a"]["keep"] is True and first["a"]["lang"] == "en"
    assert (first["b"]["keep"], first["b"]["reason"], first["b"]["lang"]) == (False, "non_english", "id")
    assert (first["c"]["keep"], first["c"]["reason"]) == (False, "spam")
    assert first["d"]["keep"] is True and first["d"]["tags"] == ["bgp"]  # route reflectors
    assert first["d"]["scores"]["topics"]["bgp"] > 0.5
    assert set(first["d"]) == {"id", "keep", "reason", "lang", "tags", "scores"}


def test_label_reads_real_posts_as_an_engineer_would(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """The classes of the real-posts issue, through `aggregator label`: the technology named
    only through software, a spam word in a customer's name, another script full of English
    product names, and a network engineer's desktop post."""
    lines = [
        {
            "id": "daemon",
            "title": "Ten minutes with the new holo release",
            "summary": "The isisd rewrite landed, and our lab's ospf6d configs loaded without a change.",
        },
        {
            "id": "casino",
            "title": "Golden Casino Resort moves its guest Wi-Fi to WPA3",
            "summary": "Four hundred access points, 802.1X for staff SSIDs and a separate VLAN per floor.",
        },
        {
            "id": "korean",
            "title": "Cilium 1.16 eBPF 기반 NetworkPolicy 정리",
            "summary": "",
            "lang_hint": "en",
        },
        {
            "id": "desktop",
            "title": "Switching to WezTerm after six years of iTerm2",
            "summary": "Ligatures, a Lua config and tmux-style panes; my dotfiles shrank by half.",
        },
        {
            "id": "lottery",
            "title": "Keluaran SGP hari ini",
            "summary": "Data SGP lengkap, angka jitu dan paito warna.",
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    result = subprocess.run(
        ["aggregator", "--config", str(tmp_path / "none.yaml"), "label", str(path)],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert out["daemon"]["keep"] and "igp" in out["daemon"]["tags"]
    assert out["casino"]["keep"] and "wireless" in out["casino"]["tags"]
    assert (out["korean"]["keep"], out["korean"]["reason"], out["korean"]["lang"]) == (
        False,
        "non_english",
        "ko",
    )
    assert out["korean"]["scores"]["language_decided_by"] == "script (Hangul)"
    # A dropped post is published under no topic; what the tagger saw stays in its scores.
    assert out["korean"]["tags"] == [] and "kubernetes" in out["korean"]["scores"]["topics"]
    assert (out["desktop"]["keep"], out["desktop"]["reason"]) == (False, "offtopic")
    assert "desktop: WezTerm" in out["desktop"]["scores"]["general_terms"]
    assert not out["lottery"]["keep"]


def test_overridden_posts_say_so_in_dropped_explain_and_the_health_page(
    server: FeedServer, write_config: WriteConfig, clock: Clock, tmp_path: Path
) -> None:
    server.routes["/f.xml"] = Route(body=rss(*items(NETWORKING[:2], 0), *items(INDONESIAN[:1], 50)))
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        ids = {p["link"]: p["id"] for p in store.posts()}
    denied, allowed = ids["https://lab.example.net/1/"], ids["https://lab.example.net/50/"]
    Path(config.path).with_name("overrides.yaml").write_text(
        f"allow:\n  - post: {allowed}\ndeny:\n  - url: 'https://lab.example.net/1/'\n"
    )
    with Store(config.database) as store:
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
    runner = CliRunner()

    listing = runner.invoke(cli, ["--config", config.path, "dropped"]).output
    row = next(line for line in listing.splitlines() if line.startswith(denied))
    assert "denied by override" in row and "offtopic" not in row
    assert "score 1.00" not in listing.lower()
    as_json = runner.invoke(cli, ["--config", config.path, "dropped", "--json"]).output
    record = next(r for r in map(json.loads, as_json.splitlines()) if r["id"] == denied)
    # The machine-readable reason stays screening's own (it kept the post); the override
    # is its own field, and the score is the model's, as stored.
    assert (record["status"], record["reason"], record["override"]) == ("dropped", None, "deny")
    assert record["score"] == 1.0

    explained = runner.invoke(cli, ["--config", config.path, "explain", denied]).output
    assert "status: dropped: denied by override in overrides.yaml (screening alone: kept)" in explained
    status = next(line for line in explained.splitlines() if line.strip().startswith("status:"))
    # The override decided: no screening score is given as the reason (a tag's own score
    # may be listed with the topics).
    assert "score" not in status and "offtopic" not in explained
    assert "the model's networking score: 1.00" in explained
    kept = runner.invoke(cli, ["--config", config.path, "explain", allowed]).output
    assert "status: kept: allowed by override in overrides.yaml" in kept
    assert "(screening alone: dropped, non_english)" in kept

    site = tmp_path / "site"
    built = runner.invoke(cli, ["--config", config.path, "build", "--out", str(site)])
    assert built.exit_code == 0, built.output
    health = (site / "health/lab-notes.html").read_text()
    assert "2 kept (1 allowed by override), 0 held, 1 denied by override" in health
    assert "dropped, denied by override, language en" in health and "offtopic" not in health
    assert "denied by override 1" in (site / "health/index.html").read_text()


def test_explain_reads_the_text_update_screened(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A one-line teaser in the description and the post itself in content:encoded: update
    # screens the content (the teaser says too little), and explain must show the terms
    # of that same text, not the teaser's.
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>Lab Notes</title><link>https://lab.example.net/</link><item>"
        "<title>Part two</title><guid>p2</guid><link>https://lab.example.net/p2/</link>"
        "<pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate>"
        "<description>Continued from last week.</description>"
        "<content:encoded><![CDATA[<p>We split the iBGP full mesh into two route reflector clusters, "
        "checked that every client kept a path through both reflectors, and watched the BGP "
        "sessions while we failed one reflector at a time.</p>]]></content:encoded>"
        "</item></channel></rss>"
    )
    server.routes["/f.xml"] = Route(body=body.encode())
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        post = next(iter(store.posts()))
    assert post["status"] == "kept"
    explained = CliRunner().invoke(cli, ["--config", config.path, "explain", post["id"][:12]])
    assert explained.exit_code == 0, explained.output
    terms = next(line for line in explained.output.splitlines() if "networking terms that count:" in line)
    assert "route reflector" in terms.lower(), explained.output
    assert "bgp" in next(line for line in explained.output.splitlines() if line.strip().startswith("bgp"))


def _label(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aggregator", "--config", str(path.parent / "none.yaml"), "label", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_label_reads_a_file_that_starts_with_a_byte_order_mark(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Windows tools save UTF-8 with a BOM; the rows are the same rows."""
    rows = [
        {"id": f"p{i}", "title": title, "summary": summary} for i, (title, summary) in enumerate(NETWORKING)
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(json.dumps(row) for row in rows).encode())
    result = _label(path, cli_env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [row["id"] for row in rows]
    assert result.stderr == ""


def test_label_names_the_line_that_is_not_utf8(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "in.jsonl"
    good = json.dumps({"id": "a", "title": NETWORKING[0][0], "summary": NETWORKING[0][1]}).encode()
    path.write_bytes(good + b'\n{"id": "b", "title": "Caf\xe9 BGP", "summary": ""}\n' + good + b"\n")
    result = _label(path, cli_env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "line 2: not UTF-8" in result.stderr and "0xe9" in result.stderr


def test_label_names_every_line_it_cannot_label_and_what_is_wrong(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """A file with several broken lines is fixed in one go: each is named with its line and
    what to change; standard output stays empty (no verdicts that skip a line). What a
    person would call a post (no summary, a number for an id or a title) is labelled."""
    good = {"id": "ok", "title": NETWORKING[0][0], "summary": NETWORKING[0][1]}
    lines = [
        json.dumps(good),
        "this is not json",
        json.dumps([good]),
        json.dumps("a string"),
        json.dumps({"id": "no-summary", "title": "BGP route reflectors"}),
        json.dumps({"title": "no id", "summary": ""}),
        json.dumps({"id": None, "title": "BGP", "summary": ""}),
        json.dumps({"id": "list", "title": ["BGP", "OSPF"], "summary": {"html": "x"}}),
        json.dumps({"id": "hint", "title": "BGP", "summary": "", "lang_hint": 12, "feed_url": ["a"]}),
        json.dumps({"id": 7, "title": 2026, "summary": None}),
        '{"id": "cut", "title": ',  # a line cut short
        '{"id": "tab", "title": "a\tb"}',  # a raw tab inside a string
        '{"id": ' + "9" * 5001 + ', "title": "BGP", "summary": ""}',
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = _label(path, cli_env)
    assert result.returncode == 1
    assert result.stdout == ""
    err = result.stderr
    assert "Traceback" not in err
    assert "line 2: not valid JSON" in err
    assert "line 3: a list, not an object" in err
    assert "line 4: a string, not an object" in err
    assert "line 6: no id" in err
    assert 'line 7: "id" is null' in err
    assert 'line 8: "title" is a list' in err and 'line 8: "summary" is an object' in err
    assert 'line 9: "feed_url" is a list' in err
    # Where a line stops short, not column 1 of a line after it; and said in words.
    assert "line 11: not valid JSON (Expecting value at column 24)" in err
    assert "line 12: not valid JSON (Invalid control character at column 26)" in err
    assert "line 13: a number of more than 4,300 digits; write it as a string" in err
    assert not any(f"line {n}:" in err for n in (1, 5, 10))
    assert "11 problem(s)" in err

    # The well-formed lines alone are labelled, one output line each, with a note for
    # the row that has no summary.
    fine = tmp_path / "fine.jsonl"
    fine.write_text("\n".join(lines[i] for i in (0, 4, 9)) + "\n")
    result = _label(fine, cli_env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["ok", "no-summary", 7]
    # (Row 7's summary is null: judged on its title as much as a row without one.)
    note = (
        "2 row(s) have no summary (or an empty one) and were judged on their title alone "
        "(first: no-summary, 7)"
    )
    assert note in result.stderr


def test_label_reads_lang_hint_as_a_language_tag(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """A short title defers to lang_hint: a tag with a region or padding is its language,
    a three-letter code is not cut to another language's two letters, and what is no
    language code is refused by line instead of becoming the post's language."""
    hints = {
        "region": "EN-us",
        "underscore": "en_GB",
        "padded": "  en ",
        "empty": "",
        "none": None,
        "iso639-2": "eng",  # a three-letter code with a two-letter one is that one
        "undetermined": "und",
    }
    rows = [{"id": key, "title": "BGP", "summary": "", "lang_hint": hint} for key, hint in hints.items()]
    rows.append({"id": "filipino", "title": "BGP", "summary": "", "lang_hint": "fil"})
    rows.append({"id": "german", "title": "BGP", "summary": "", "lang_hint": "deu"})
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    result = _label(path, cli_env)
    assert result.returncode == 0, result.stderr
    out = {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}
    for key in hints:
        assert (out[key]["keep"], out[key]["lang"]) == (True, "en"), key
    assert (out["filipino"]["keep"], out["filipino"]["lang"]) == (False, "fil")
    assert (out["german"]["keep"], out["german"]["lang"]) == (False, "de")

    odd = tmp_path / "odd.jsonl"
    odd.write_text(
        "\n".join(
            json.dumps({"id": str(i), "title": "BGP", "summary": "", "lang_hint": hint})
            for i, hint in enumerate(["en", "e", "english", 12], 1)
        )
        + "\n"
    )
    # What names no language is no hint (the post's own text decides), never a reason to
    # refuse the file or to take "12" for a language; standard error says so.
    result = _label(odd, cli_env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["keep"] for line in result.stdout.splitlines()] == [True] * 4
    assert "3 row(s) have a lang_hint that is no language code, read as no hint" in result.stderr
    assert "2: 'e', 3: 'english', 4: 12" in result.stderr


def test_explain_with_a_prefix_of_several_ids_says_so(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    """More posts than hex digits: two ids start alike, and that prefix names no one post."""
    server.routes["/f.xml"] = Route(
        body=rss(*[i for n in range(3) for i in items(NETWORKING, 10 * n, n + 1)])
    )
    config = write_config([("/f.xml", "Lab Notes")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        ids = sorted(row["id"] for row in store.db.query("SELECT id FROM posts"))
    assert len(ids) == 18
    prefix = next(a[0] for a, b in pairwise(ids) if a[0] == b[0])
    result = CliRunner().invoke(cli, ["--config", config.path, "explain", prefix])
    assert result.exit_code == 1
    assert f"{prefix!r} is the start of more than one post's id" in result.output
    assert "give more of the id" in result.output
    missing = CliRunner().invoke(cli, ["--config", config.path, "explain", "ffff0000"])
    assert missing.exit_code == 1 and "no post with id 'ffff0000'" in missing.output


def test_an_overrides_file_of_the_wrong_shape_is_reported_not_a_traceback(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/f.xml"] = Route(body=rss(*items(NETWORKING[:1], 0)))
    config = write_config(["/f.xml"])
    overrides = Path(config.path).with_name("overrides.yaml")
    runner = CliRunner()
    for text, expected in [
        (b"allow: 5\n", "allow: must be a list of entries such as '- post: ID', got '5'"),
        # A bare id is not read letter by letter, twenty problems for one mistake.
        (b"deny: 3c82c9affbcf3d955bf0\n", "deny: must be a list of entries such as '- post: ID'"),
        (b"deny:\n  - url: 'https://caf\xe9.example.net/*'\n", "line 2: not UTF-8 text (byte 0xe9)"),
    ]:
        overrides.write_bytes(text)
        for command in ("check", "update"):
            result = runner.invoke(cli, ["--config", config.path, command])
            assert result.exit_code == 2, (text, command, result.output, result.exception)
            assert f"{overrides}: 1 problem(s)" in result.output and expected in result.output


def _one_dropped_post(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> tuple[Config, str, Path]:
    """A feed of one networking post and one Indonesian one, updated once: the config,
    the dropped post's id, and where overrides.yaml goes."""
    server.routes["/f.xml"] = Route(body=rss(*items(NETWORKING[:1], 0), *items(INDONESIAN[:1], 50)))
    config = write_config(["/f.xml"])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        dropped_id = next(p["id"] for p in store.posts() if p["status"] == "dropped")
    return config, dropped_id, Path(config.path).with_name("overrides.yaml")


def test_overrides_file_problems_name_their_line_and_a_key_given_twice_is_refused(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    config, dropped_id, overrides = _one_dropped_post(server, write_config, clock)
    runner = CliRunner()
    # Two allow: lists, as an owner who appends to the file writes them: YAML keeps the
    # last, so the first allow was silently ignored and its post stayed dropped.
    overrides.write_text(
        f"allow:\n  - post: {dropped_id}\ndeny:\n  - url: '*casino*'\nallow:\n  - url: 'https://x.example.net/*'\n"
    )
    for command in ("check", "update"):
        result = runner.invoke(cli, ["--config", config.path, command])
        assert result.exit_code == 2, (command, result.output)
        assert f"{overrides}: 1 problem(s)" in result.output
        assert "line 5: key 'allow' appears twice (first on line 1); keep one" in result.output
    overrides.write_text("deny:\n  - url: '*casino*'\n  - link: https://x/\npermit:\n  - post: abc\n")
    result = runner.invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 2
    assert "line 3, deny[1]: expected one of post: ID, url: PATTERN or feed: URL" in result.output
    assert "got {'link': 'https://x/'}" in result.output
    assert "line 4: unknown key 'permit'; use allow: or deny:" in result.output
    overrides.write_text("allow:\n  - post: [x\n")
    result = runner.invoke(cli, ["--config", config.path, "check"])
    assert (
        result.exit_code == 2
        and "line 2: not valid YAML (a flow sequence opened here is not closed)" in result.output
    )


def test_an_override_naming_a_prefix_of_a_post_id_is_refused_not_ignored(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # The health pages and explain show a post by the first 12 digits of its id, and
    # explain takes a prefix: an override given one matched no post, and check said OK.
    config, dropped_id, overrides = _one_dropped_post(server, write_config, clock)
    overrides.write_text(f"allow:\n  - url: 'https://x.example.net/*'\n  - post: {dropped_id[:12]}\n")
    runner = CliRunner()
    for command in ("check", "update"):
        result = runner.invoke(cli, ["--config", config.path, command])
        assert result.exit_code == 2, (command, result.output)
        assert (
            f"line 3, allow[1]: post: {dropped_id[:12]} is not a whole post id (20 hex digits, as "
            "`aggregator dropped` prints it), so it would match no post; copy the whole id"
        ) in result.output
    corrections = Path(config.path).with_name("corrections.yaml")
    corrections.write_text(f"- post: {dropped_id[:12]}\n  add: [bgp]\n")
    overrides.write_text(f"allow:\n  - post: {dropped_id.upper()}\n")
    result = runner.invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 2
    assert f"line 1, entry 1: post: {dropped_id[:12]} is not a whole" in result.output
    corrections.unlink()
    with Store(config.database) as store:
        clock.now += timedelta(hours=1)
        update(config, store, clock=clock)
        assert store.post(dropped_id)["status"] == "kept"  # the whole id, in capitals, is fine


def test_a_feed_rule_matches_the_feed_however_it_is_spelt_and_check_names_one_matching_none(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    server.routes["/my%20notes/feed.xml"] = Route(body=rss(*items(NETWORKING[:2], 0)))  # as sent
    config = write_config([server.url("/my notes/feed.xml")])
    overrides = Path(config.path).with_name("overrides.yaml")
    overrides.write_text(
        f"deny:\n  - feed: '{server.url('/my%20notes/feed.xml/')}'\n"
        "  - feed: 'https://gone.example.net/feed'\n"
    )
    with Store(config.database) as store:
        update(config, store, clock=clock)
        assert {p["status"] for p in store.posts()} == {"dropped"}
    result = CliRunner().invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.output.splitlines() if "warning:" in line] == [
        f"warning: {overrides}: deny feed: 'https://gone.example.net/feed' names no feed in feeds.yaml, "
        "so it drops nothing; copy the feed's url from there"
    ]


def test_check_warns_of_an_override_that_matches_every_site(write_config: WriteConfig) -> None:
    # A deny of '*' drops every post (and the build then refuses the shrunken site); an
    # allow of '*' publishes every spam post. check still passes, but says so.
    config = write_config(["/f.xml"])
    overrides = Path(config.path).with_name("overrides.yaml")
    overrides.write_text(
        "allow:\n  - url: 'http*'\ndeny:\n  - url: '*'\n  - url: 'https://casino.example.net/*'\n"
    )
    result = CliRunner().invoke(cli, ["--config", config.path, "check"])
    assert result.exit_code == 0, result.output
    warnings = [line.strip() for line in result.output.splitlines() if "warning:" in line]
    assert warnings == [
        f"warning: {overrides}: allow url: 'http*' matches the links of every site, so it publishes "
        "every post, spam included; name the site, such as 'https://blog.example.net/*'",
        f"warning: {overrides}: deny url: '*' matches the links of every site, so it drops every "
        "post; name the site, such as 'https://blog.example.net/*'",
    ]


def test_label_moves_a_feeds_baseline_post_by_post_as_update_does() -> None:
    # label judged every row with the feed's baseline as the database had it: three
    # departures in a row never quarantined the feed, and the next post was kept where
    # update held it.
    screener = Screener.load()
    established = Baseline(screened=14, kept=14, usual_lang="en")
    url = "https://lab.example.net/feed.xml"
    rows = [
        {"id": f"d{i}", "title": title, "summary": summary, "feed_url": url}
        for i, (title, summary) in enumerate([*INDONESIAN[:3], NETWORKING[0]], 1)
    ]
    out = list(label_rows(rows, LabelContext(screener, lambda feed: established if feed == url else None)))
    assert [(r["keep"], r["reason"]) for r in out] == [
        (False, "non_english"),
        (False, "non_english"),
        (False, "non_english"),
        (False, "feed_drift"),
    ]
    assert out[3]["scores"]["baseline"].startswith("the feed is in quarantine")
    assert out[3]["tags"] == []


def test_release_does_not_count_a_held_post_an_override_denies_as_published(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    config, _, _ = hijacked(server, write_config, clock, f"deny:\n  - feed: {server.url('/f.xml')}\n")
    with Store(config.database) as store:
        assert [p["status"] for p in store.posts() if p["screen_status"] == "held"] == ["dropped"]
    released = CliRunner().invoke(cli, ["--config", config.path, "release", "Lab Notes"])
    assert released.exit_code == 0
    assert released.output == (
        "Lab Notes: quarantine ended; 0 held post(s) published; 1 stay dropped, denied in overrides.yaml\n"
    )
    with Store(config.database) as store:
        assert not [p for p in store.posts() if p["status"] == "kept" and p["override"] == "deny"]


def test_a_short_episode_title_is_kept_for_its_audio_and_a_short_post_is_not(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # "Episode 42" with audio and no show notes: its subject is in the audio, and a new
    # podcast feed has no record to keep it by. A two-word blog post that names nothing is
    # too short to judge.
    episode = Item("Episode 42", guid="e42", body="", enclosure="https://pod.example.net/42.mp3")
    server.routes["/pod.xml"] = Route(body=rss(episode, title="A Podcast"))
    # An image is not the post's subject: "Merry Christmas" with a picture is still short.
    card = rss(Item("Back soon", guid="b1", body=""), Item("Merry Christmas", guid="b2", body=""))
    picture = b'<enclosure url="https://blog.example.net/card.jpg" type="image/jpeg"/>'
    guid = b'<guid isPermaLink="false">b2</guid>'
    card = card.replace(guid, guid + picture)
    server.routes["/blog.xml"] = Route(body=card)
    config = write_config([("/pod.xml", "A Podcast"), ("/blog.xml", "A Blog")])
    with Store(config.database) as store:
        update(config, store, clock=clock)
        statuses = {p["title"]: (p["status"], p["reason"]) for p in store.posts()}
    assert statuses == {
        "Episode 42": ("kept", None),
        "Back soon": ("dropped", "offtopic"),
        "Merry Christmas": ("dropped", "offtopic"),
    }
