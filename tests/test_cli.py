"""The command line as cron and a person use it: real subprocesses, real files."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

from click.testing import CliRunner
from conftest import WriteConfig, fixture_bytes, serve_fixture
from feedgen import Item, rss

from aggregator.cli import cli
from aggregator.feedserver import FeedServer, Route

ROOT = Path(__file__).parent.parent
LEAVING = [
    Item(
        "Route reflector clusters in a regional ISP",
        guid="leave-1",
        link="https://leaving.example.net/1/",
        date="Mon, 02 Nov 2026 08:00:00 GMT",
        body="<p>How we split our iBGP mesh into two route reflector clusters and tested failover.</p>",
    ),
    Item(
        "OSPF area design for a campus core",
        guid="leave-2",
        link="https://leaving.example.net/2/",
        date="Tue, 03 Nov 2026 08:00:00 GMT",
        body="<p>Why we kept area 0 small, summarised the building areas and used stub areas.</p>",
    ),
]


def aggregator(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aggregator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_update_is_silent_without_a_terminal_and_exits_0_on_partial_failure(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    serve_fixture(server, "/ok.xml", "rss2.xml")
    config = write_config(["/ok.xml", "/missing.xml"])
    result = aggregator("--config", config.path, "update", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    verbose = aggregator("--config", config.path, "update", "-v", "--force", env=cli_env)
    assert verbose.returncode == 0
    assert "failed: Feed 1: HTTP 404 Not Found" in verbose.stdout
    assert verbose.stdout.strip().endswith(
        "2 feeds: 1 ok, 0 not modified, 1 failed, 0 skipped; 0 new posts, 0 updated"
    )


def test_run_is_the_cron_entry_point(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    serve_fixture(server, "/ok.xml", "rss2.xml")
    config = write_config(["/ok.xml"])
    result = aggregator("--config", config.path, "run", "-v", env=cli_env)
    assert result.returncode == 0
    assert "3 new posts" in result.stdout
    quiet = aggregator("--config", config.path, "run", "-q", env=cli_env)
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_environment_variables_choose_config_and_database(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    serve_fixture(server, "/ok.xml", "rss2.xml")
    config = write_config(["/ok.xml"])
    db = tmp_path / "elsewhere" / "posts.db"
    env = {**cli_env, "AGGREGATOR_CONFIG": config.path, "AGGREGATOR_DB": str(db)}
    assert aggregator("update", env=env).returncode == 0
    assert db.exists()
    assert not Path(config.database).exists()


def test_config_error_exits_non_zero_with_the_file_and_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - url: https://a.example.net/feed\n    name: A\n    kind: vlog\n")
    result = aggregator("--config", str(bad), "update", env=cli_env)
    assert result.returncode == 2
    assert f"{bad}: 1 problem(s)" in result.stderr
    assert "line 4, feeds[0] (A) kind: is 'vlog'; use blog or podcast" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_error_exits_non_zero_with_a_clear_message(
    write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(["/ok.xml"])
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_bytes(b"this is not sqlite" * 100)
    result = aggregator("--config", config.path, "--db", str(not_a_db), "update", env=cli_env)
    assert result.returncode == 3
    assert "database error" in result.stderr and str(not_a_db) in result.stderr
    assert "Traceback" not in result.stderr


def test_status_shows_health_of_every_feed(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    serve_fixture(server, "/new.xml", "rss2.xml")
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    server.routes["/gone.xml"] = Route(status=410)
    server.routes["/err.xml"] = Route(status=500)
    config = write_config(
        [("/old.xml", "Moved Blog"), ("/gone.xml", "Gone Blog"), ("/err.xml", "Broken Blog")]
    )
    aggregator("--config", config.path, "update", env=cli_env)
    result = aggregator("--config", config.path, "status", env=cli_env)
    assert result.returncode == 0
    lines = {line.split("  ")[0].strip(): line for line in result.stdout.splitlines()}
    assert f"moved permanently: change url to {server.url('/new.xml')}" in lines["Moved Blog"]
    assert re.search(r"Moved Blog\s+200\s+\d+s ago\s+0\s+next run\s+3", lines["Moved Blog"])
    assert "not fetched: gone (HTTP 410)" in lines["Gone Blog"]
    assert re.search(r"Broken Blog\s+500\s+never\s+1\s+in 15m\s+0\s+failing: HTTP 500", lines["Broken Blog"])
    assert "Last run" in result.stdout and "finished" in result.stdout


def test_status_before_first_run_says_what_to_do(write_config: WriteConfig) -> None:
    config = write_config(["/ok.xml"])
    result = CliRunner().invoke(cli, ["--config", config.path, "status"])
    assert result.exit_code == 3
    assert "run `aggregator update` first" in result.output


def test_demo_runs_offline_and_says_where_to_look(tmp_path: Path, cli_env: dict[str, str]) -> None:
    out = tmp_path / "demo"
    result = aggregator("demo", "--out", str(out), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "Packet Notes" in result.stdout and "On the Wire" in result.stdout
    assert re.search(r"Half Written Blog\s+ok", result.stdout)
    assert re.search(r"Retired Blog\s+gone", result.stdout)
    assert re.search(r"Packet Notes\s+not_modified", result.stdout)  # second run: 304
    assert f"Stored 33 posts in {out / 'aggregator.db'}" in result.stdout
    assert "5 dropped (non_english)" in result.stdout  # the hijacked blog's Indonesian posts
    assert "28 kept" in result.stdout
    status = aggregator("--config", str(out / "feeds.yaml"), "status", env=cli_env)
    assert "moved permanently" in status.stdout


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"aggregator {name}" in readme, f"README does not document `aggregator {name}`"
    ci = (ROOT / ".ci" / "run").read_text()
    first_block = readme.split("```")[1].split("\n", 1)[1]
    commands = [ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()]
    assert commands[0] == "make demo"
    assert commands[1] == "make test"
    assert "\nmake test\n" in ci, "the README's test command must be what CI runs"


def test_terminal_gets_a_progress_bar_and_a_summary(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    import os
    import pty

    serve_fixture(server, "/ok.xml", "rss2.xml")
    config = write_config(["/ok.xml", "/missing.xml"])
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        ["aggregator", "--config", config.path, "update"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**cli_env, "COLUMNS": "100"},
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert proc.wait(timeout=30) == 0
    text = output.decode(errors="replace")
    assert "Fetching feeds" in text
    assert "failed: Feed 1: HTTP 404 Not Found" in text
    assert "2 feeds: 1 ok, 0 not modified, 1 failed, 0 skipped; 3 new posts, 0 updated" in text


def test_unknown_feed_name_is_a_clear_error(write_config: WriteConfig) -> None:
    config = write_config([("/a.xml", "Alpha")])
    result = CliRunner().invoke(cli, ["--config", config.path, "update", "--feed", "Alpah"])
    assert result.exit_code == 1
    assert "--feed 'Alpah' is neither the name nor the URL of a feed" in result.output


def test_a_gone_feed_says_it_is_not_fetched_and_force_fetches_it(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    serve_fixture(server, "/ok.xml", "rss2.xml")
    server.routes["/gone.xml"] = Route(status=410)
    config = write_config([("/ok.xml", "Live Blog"), ("/gone.xml", "Gone Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0

    status = aggregator("--config", config.path, "status", env=cli_env)
    lines = {line.split("  ")[0].strip(): line for line in status.stdout.splitlines()}
    gone = lines["Gone Blog"]
    assert "not fetched: gone (HTTP 410)" in gone
    assert not re.search(r"\bin \d+[smhd]\b", gone)  # no next-fetch time
    assert re.search(r"Live Blog\s+200\s+\d+s ago\s+0\s+next run\s+3", lines["Live Blog"])
    rows = {
        row["name"]: row
        for row in map(
            json.loads,
            aggregator("--config", config.path, "status", "--json", env=cli_env).stdout.splitlines(),
        )
    }
    assert rows["Gone Blog"]["state"] == "gone" and rows["Gone Blog"]["next_fetch"] is None
    assert rows["Gone Blog"]["state_text"] == "not fetched: gone (HTTP 410)"
    assert rows["Live Blog"]["state"] == "ok" and rows["Live Blog"]["next_fetch"] is None

    site = tmp_path / "site"
    assert aggregator("--config", config.path, "build", "--out", str(site), env=cli_env).returncode == 0
    summary = (site / "health/index.html").read_text()
    assert "not fetched: gone (HTTP 410)" in summary
    page = (site / "health/gone-blog.html").read_text()
    assert "<dt>Next fetch</dt><dd>not fetched: gone (HTTP 410)</dd>" in page
    assert "next run" not in page and "next fetch in" not in page.lower()
    assert "failing" not in page  # not fetched is not failing

    # Not asked again by a plain update; --force asks, and a feed that is back is ok.
    server.routes["/gone.xml"] = Route(body=fixture_bytes("atom.xml"))
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    assert server.hits("/gone.xml") == 1
    assert aggregator("--config", config.path, "update", "--force", env=cli_env).returncode == 0
    assert server.hits("/gone.xml") == 2
    back = aggregator("--config", config.path, "status", "--json", env=cli_env).stdout.splitlines()
    assert {row["name"]: row["state"] for row in map(json.loads, back)}["Gone Blog"] == "ok"


def test_a_feed_removed_from_the_config_leaves_status_health_and_opml_but_not_the_archive(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    serve_fixture(server, "/stays.xml", "rss2.xml")
    server.routes["/leaves.xml"] = Route(body=rss(*LEAVING))
    config = write_config([("/stays.xml", "Staying Blog"), ("/leaves.xml", "Leaving Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    leaving_url = server.url("/leaves.xml")

    def stored_posts() -> list[tuple[str, str]]:
        with sqlite3.connect(config.database) as db:
            return db.execute(
                "SELECT title, status FROM posts WHERE feed_url = ? ORDER BY title", [leaving_url]
            ).fetchall()

    before = stored_posts()
    assert [status for _title, status in before] == ["kept", "kept"]
    write_config([("/stays.xml", "Staying Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0

    status = aggregator("--config", config.path, "status", env=cli_env).stdout
    assert "Staying Blog" in status and "Leaving Blog" not in status
    as_json = aggregator("--config", config.path, "status", "--json", env=cli_env).stdout
    assert [json.loads(line)["name"] for line in as_json.splitlines()] == ["Staying Blog"]
    site = tmp_path / "site"
    assert aggregator("--config", config.path, "build", "--out", str(site), env=cli_env).returncode == 0
    assert "Leaving Blog" not in (site / "health/index.html").read_text()
    assert not (site / "health/leaving-blog.html").exists()
    opml = (site / "feeds/sources.opml").read_text()
    assert server.url("/stays.xml") in opml and leaving_url not in opml
    assert "Leaving Blog" not in (site / "sources/index.html").read_text()

    # Its posts stay in the database and where they were published: the river and a
    # source page that says the feed is no longer followed.
    assert stored_posts() == before
    river = (site / "index.html").read_text()
    assert all(title in river for title, _status in before)
    former = (site / "sources/leaving-blog/index.html").read_text()
    assert "No longer followed" in former and before[0][0] in former
