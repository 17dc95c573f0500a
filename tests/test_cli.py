"""The command line as cron and a person use it: real subprocesses, real files."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import WriteConfig, fixture_bytes, serve_fixture
from feedgen import Item, rss

from aggregator.cli import cli
from aggregator.feedserver import FeedServer, Route
from aggregator.store import Store

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
    serve_fixture(server, "/cdn.xml", "rss2.xml", headers={"Cache-Control": "max-age=7200"})
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    server.routes["/gone.xml"] = Route(status=410)
    server.routes["/err.xml"] = Route(status=500)
    config = write_config(
        [
            ("/old.xml", "Moved Blog"),
            ("/gone.xml", "Gone Blog"),
            ("/err.xml", "Broken Blog"),
            ("/cdn.xml", "Cached Blog"),
        ],
        fetch="max_fresh_wait: 86400",
    )
    aggregator("--config", config.path, "update", env=cli_env)
    result = aggregator("--config", config.path, "status", env=cli_env)
    assert result.returncode == 0
    lines = {line.split("  ")[0].strip(): line for line in result.stdout.splitlines()}
    assert f"moved permanently: change url to {server.url('/new.xml')}" in lines["Moved Blog"]
    assert re.search(r"Moved Blog\s+200\s+\d+s ago\s+0\s+next run\s+3", lines["Moved Blog"])
    assert "not fetched: gone (HTTP 410)" in lines["Gone Blog"]
    assert re.search(r"Broken Blog\s+500\s+never\s+1\s+in 15m\s+0\s+failing: HTTP 500", lines["Broken Blog"])
    assert re.search(
        r"Cached Blog\s+200\s+\d+s ago\s+0\s+in [12]h\S*\s+3\s+fresh by Cache-Control: max-age=7200",
        lines["Cached Blog"],
    )
    assert "Last run" in result.stdout and "finished" in result.stdout


def test_relative_links_of_a_redirected_feed_resolve_where_the_feed_was_found(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # A blog that moved: its old feed URL redirects to the new one, whose relative links
    # are relative to the new place. Resolved against the configured URL they led to
    # pages that never existed.
    body = "<p>The diagram: <a href='n0-diagram.png'>here</a>.</p>"
    server.routes["/new/feed.xml"] = Route(body=rss(Item("Moved post", guid="n0", link="n0.html", body=body)))
    server.routes["/moved/feed"] = Route(status=301, headers={"Location": "/new/feed.xml"})
    server.routes["/tmp/feed"] = Route(status=302, headers={"Location": "/new/feed.xml"})
    config = write_config([("/moved/feed", "Moved Blog"), ("/tmp/feed", "Lent Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    with sqlite3.connect(config.database) as db:
        rows = db.execute("SELECT link, content_html FROM posts ORDER BY feed_url").fetchall()
    assert len(rows) == 2
    for link, content in rows:
        assert link == server.url("/new/n0.html")
        assert f'href="{server.url("/new/n0-diagram.png")}"' in content


def test_a_relative_content_location_is_read_against_where_the_feed_was_found(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # Left relative, the entries' base made every relative link in their content
    # relative too, and the sanitizer dropped them as unsafe.
    body = "<p>See <a href='other.html'>the other post</a> and <img src='img/a.png'>.</p>"
    server.routes["/cloc"] = Route(
        body=rss(Item("Located", guid="c1", link="post1.html", body=body)),
        headers={"Content-Location": "/elsewhere/feed.xml"},
    )
    config = write_config([("/cloc", "Located Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    with sqlite3.connect(config.database) as db:
        ((link, content),) = db.execute("SELECT link, content_html FROM posts").fetchall()
    assert link == server.url("/elsewhere/post1.html")
    assert f'href="{server.url("/elsewhere/other.html")}"' in content
    assert f'src="{server.url("/elsewhere/img/a.png")}"' in content


def test_control_characters_a_server_sends_never_reach_the_terminal(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # C1 controls ("\x9b" is a terminal's CSI, as ESC [ is) in a header value went into the
    # error text and the suggested URL, and so to `update -v`, `status` and the health pages.
    server.routes["/enc.xml"] = Route(
        body=b"x", headers={"Content-Encoding": "gzip, gzip, \x9b31;1mRED\x9b0m"}
    )
    server.routes["/moved.xml"] = Route(status=301, headers={"Location": "/x\x9b31mRED\x9b0m"})
    server.routes["/x%C2%9B31mRED%C2%9B0m"] = Route(status=500)  # failing for now, not missing
    config = write_config([("/enc.xml", "Encoded Blog"), ("/moved.xml", "Moved Blog")])
    update = aggregator("--config", config.path, "update", "-v", env=cli_env)
    status = aggregator("--config", config.path, "status", env=cli_env)
    for output in (update.stdout, update.stderr, status.stdout):
        assert not any(0x80 <= ord(c) <= 0x9F or (ord(c) < 0x20 and c != "\n") for c in output), output
    assert "refused: the body is compressed more than once" in update.stdout
    assert f"moved permanently: change url to {server.url('/x%C2%9B31mRED%C2%9B0m')}" in status.stdout


def test_a_permanent_redirect_to_a_missing_feed_is_not_suggested(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # "change url to" an address that answers 404 sent the owner to a dead end.
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/missing.xml"})
    server.routes["/missing.xml"] = Route(status=404)
    config = write_config([("/old.xml", "Moved Blog")])
    aggregator("--config", config.path, "update", env=cli_env)
    status = aggregator("--config", config.path, "status", env=cli_env).stdout
    assert f"failing: redirected to {server.url('/missing.xml')}: HTTP 404" in status
    assert "moved permanently" not in status
    # Suggested while the new address worked, the suggestion outlives a passing 404 there:
    # the owner who takes it keeps the feed's history.
    serve_fixture(server, "/missing.xml", "rss2.xml")
    aggregator("--config", config.path, "update", "--force", env=cli_env)
    server.routes["/missing.xml"] = Route(status=404)
    aggregator("--config", config.path, "update", "--force", env=cli_env)
    status = aggregator("--config", config.path, "status", env=cli_env).stdout
    assert f"moved permanently: change url to {server.url('/missing.xml')}" in status


def test_status_shows_a_long_suggested_url_whole(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # The owner copies the suggestion into feeds.yaml: a URL cut short would be a new feed
    # (its posts stored again, or a 404), not the moved one.
    target = "/feeds/" + "network-engineering-category/" * 4 + "atom.xml"
    server.routes["/old.xml"] = Route(status=301, headers={"Location": target})
    server.routes[target] = Route(status=500)  # a failing note comes first
    config = write_config([("/old.xml", "Moved Blog")])
    aggregator("--config", config.path, "update", env=cli_env)
    line = aggregator("--config", config.path, "status", env=cli_env).stdout.splitlines()[1]
    assert line.startswith("Moved Blog") and "failing: redirected to " in line
    assert line.endswith(f"moved permanently: change url to {server.url(target)}")


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
    # Run again into its own folder it starts over; a planet of the owner's it leaves alone.
    again = aggregator("demo", "--out", str(out), env=cli_env)
    assert again.returncode == 0 and f"Stored 33 posts in {out / 'aggregator.db'}" in again.stdout
    planet = tmp_path / "planet"
    planet.mkdir()
    (planet / "feeds.yaml").write_text("feeds: []\n")
    (planet / "aggregator.db").write_bytes(b"the owner's posts")
    (tmp_path / "web" / "public").mkdir(parents=True)
    (tmp_path / "web" / "public" / "index.html").write_text("<p>the owner's page</p>")
    web = aggregator("demo", "--out", str(tmp_path / "web"), env=cli_env)
    assert web.returncode == 1 and "public/" in web.stderr
    assert sorted(p.name for p in (tmp_path / "web").iterdir()) == ["public"]  # nothing written
    (tmp_path / "thumbs").mkdir()
    (tmp_path / "thumbs" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not a database")
    assert aggregator("demo", "--out", str(tmp_path / "thumbs"), env=cli_env).returncode == 0
    refused = aggregator("demo", "--out", str(planet), env=cli_env)
    assert refused.returncode == 1
    assert "holds feeds.yaml, aggregator.db, which `aggregator demo` did not write" in refused.stderr
    assert (planet / "feeds.yaml").read_text() == "feeds: []\n"
    assert (planet / "aggregator.db").read_bytes() == b"the owner's posts"


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


def _foreign_sqlite(path: Path, wal: bool) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.commit()


def _empty_sqlite(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 1")  # a valid SQLite header and no tables


NOT_OUR_DATABASE = {
    "zero bytes": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "an HTML error page": (
        lambda p: p.write_bytes(b"<html><body><h1>502 Bad Gateway</h1></body></html>\n" * 20),
        "is not an SQLite database (it starts with b'<html><body><h1>')",
    ),
    "a truncated header": (
        lambda p: p.write_bytes(b"SQLite format 3\x00\x10\x00"),
        "is a truncated SQLite file",
    ),
    "another program's database": (
        lambda p: _foreign_sqlite(p, wal=False),
        "is another program's SQLite database (its tables: invoices)",
    ),
    "another program's WAL database": (
        lambda p: _foreign_sqlite(p, wal=True),
        "is another program's SQLite database (its tables: invoices)",
    ),
    "an SQLite file with no tables": (_empty_sqlite, "is an SQLite database with no tables at all"),
}


@pytest.mark.parametrize("kind", NOT_OUR_DATABASE)
def test_a_file_that_is_not_an_aggregator_database_is_refused_and_left_as_it_is(
    kind: str, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    make, says = NOT_OUR_DATABASE[kind]
    config = write_config(
        ["/ok.xml"],
        extra="digest:\n  from: Planet <planet@example.net>\n"
        "  subscribers:\n    - {email: dana@example.org, frequency: daily, hour: 0}\n",
    )
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "aggregator.db"
    make(db)
    before = db.read_bytes()
    result = aggregator("--config", config.path, "--db", str(db), "update", env=cli_env)
    assert result.returncode == 3, result.stderr
    assert f"aggregator: database error: {db} {says}" in result.stderr
    assert "restore it from a backup (see docs/operations.md, 'Backups and recovery')" in result.stderr
    assert "or move it away so a new database is created" in result.stderr
    assert "Traceback" not in result.stderr
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "1", "title": "BGP", "summary": "route reflectors"}\n')
    # Every other command that opens the database goes through the same check.
    for command in (
        ["build", "--out", str(tmp_path / "site")],
        ["run"],
        ["status"],
        ["dropped"],
        ["explain", "abc"],
        ["release", "Feed 0"],
        ["digest", "--dry-run", "--out", str(tmp_path / "eml")],
        ["label", str(rows)],
        ["backup", str(tmp_path / "copy.db")],
    ):
        other = CliRunner().invoke(cli, ["--config", config.path, "--db", str(db), *command])
        assert other.exit_code == 3, (command, other.output)
        assert f"{db} {says}" in other.output, command
    assert db.read_bytes() == before
    # Nothing beside it but the run lock: no -wal, -shm or half-made database.
    assert sorted(p.name for p in folder.iterdir()) == ["aggregator.db", "aggregator.db.lock"]
    assert not (tmp_path / "site").exists() and not (tmp_path / "copy.db").exists()


def _database_with_posts(path: Path, feed_url: str, posts: int) -> None:
    Store(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO feeds (url, name, added) VALUES (?, 'Feed 0', '2026-11-24')", [feed_url])
        _add_posts(conn, feed_url, 0, posts)
        conn.commit()


def _add_posts(conn: sqlite3.Connection, feed_url: str, start: int, count: int) -> None:
    conn.executemany(
        "INSERT INTO posts (id, feed_url, title, published, date_source, first_seen, last_changed, "
        "content_html, content_hash) "
        "VALUES (?, ?, ?, '2026-11-24', 'feed', '2026-11-24', '2026-11-24', ?, ?)",
        [
            (f"p{i}", feed_url, f"Post {i}", "<p>BGP route reflection</p>" * 40, str(i))
            for i in range(start, start + count)
        ],
    )


def _copied_posts(path: Path) -> tuple[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0], conn.execute(
            "SELECT count(*) FROM posts"
        ).fetchone()[0]


def test_backup_copies_the_committed_state_while_a_write_transaction_is_open(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(["/ok.xml"])
    _database_with_posts(Path(config.database), server.url("/ok.xml"), 300)
    writer = sqlite3.connect(config.database, isolation_level=None)
    _add_posts(writer, server.url("/ok.xml"), 300, 20)  # committed, and so far only in the WAL
    assert Path(f"{config.database}-wal").stat().st_size > 0
    writer.execute("BEGIN IMMEDIATE")  # a run in the middle of storing a feed
    _add_posts(writer, server.url("/ok.xml"), 320, 50)
    copy = tmp_path / "backups" / "planet.db"
    copy.parent.mkdir()
    result = aggregator("--config", config.path, "backup", str(copy), env=cli_env)
    writer.execute("COMMIT")
    writer.close()
    assert result.returncode == 0, result.stderr
    size = copy.stat().st_size
    assert result.stdout == (
        f"backed up {config.database} to {copy}: {size:,} bytes, 320 posts; integrity check ok\n"
    )
    assert _copied_posts(copy) == ("ok", 320)
    assert sorted(p.name for p in copy.parent.iterdir()) == ["planet.db"]  # no partial file left
    status = aggregator("--config", config.path, "--db", str(copy), "status", env=cli_env)
    assert status.returncode == 0, status.stderr
    assert re.search(r"Feed 0 .* 320  ", status.stdout), status.stdout


def test_backup_during_a_stream_of_writes_is_one_committed_state(
    write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(["/ok.xml"])
    feed_url = "https://blog.example.net/feed.xml"
    _database_with_posts(Path(config.database), feed_url, 1000)
    stop, committed = threading.Event(), [1000]

    def write() -> None:  # batches of 25 posts, one transaction each, until told to stop
        with contextlib.closing(sqlite3.connect(config.database, timeout=30, isolation_level=None)) as conn:
            while not stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                _add_posts(conn, feed_url, committed[0], 25)
                conn.execute("COMMIT")
                committed[0] += 25

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while committed[0] < 1100:  # writing is under way
            time.sleep(0.01)
        result = aggregator("--config", config.path, "backup", str(tmp_path / "copy.db"), env=cli_env)
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    integrity, posts = _copied_posts(tmp_path / "copy.db")
    assert integrity == "ok"
    assert 1100 <= posts <= committed[0] and posts % 25 == 0
    assert f"{posts} posts; integrity check ok" in result.stdout


def test_backup_never_replaces_a_file_unless_forced(
    write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(["/ok.xml"])
    _database_with_posts(Path(config.database), "https://blog.example.net/feed.xml", 3)
    earlier = tmp_path / "copy.db"
    earlier.write_bytes(b"yesterday's backup")
    refused = aggregator("--config", config.path, "backup", str(earlier), env=cli_env)
    assert refused.returncode == 1
    assert f"{earlier} already exists; choose another name, or pass --force to replace it" in refused.stderr
    assert earlier.read_bytes() == b"yesterday's backup"
    forced = aggregator("--config", config.path, "backup", "--force", str(earlier), env=cli_env)
    assert forced.returncode == 0, forced.stderr
    assert _copied_posts(earlier) == ("ok", 3)
    missing = tmp_path / "no-such-folder" / "copy.db"
    nowhere = aggregator("--config", config.path, "backup", str(missing), env=cli_env)
    assert nowhere.returncode == 1
    assert f"{missing.parent} does not exist; create the folder first" in nowhere.stderr
    under_a_file = aggregator("--config", config.path, "backup", str(earlier / "copy.db"), env=cli_env)
    assert under_a_file.returncode == 1
    assert f"{earlier} is a file, not a folder" in under_a_file.stderr


def test_an_update_on_a_damaged_database_fails_the_run_not_its_feeds(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # Cron watches the exit status: a database that cannot be written is the run's
    # error (exit 3), not each feed's, and no feed is put into backoff for it.
    server.routes["/ok.xml"] = Route(
        body=rss(Item("OSPF stub areas", guid="n1", link="https://b.example.net/1"))
    )
    # A slower feed: the failed batch ends while it is still being fetched.
    server.routes["/slow.xml"] = Route(status=404, delay=1.5)
    config = write_config(["/ok.xml", "/slow.xml"])
    db = Path(config.database)
    _database_with_posts(db, server.url("/ok.xml"), 200)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'posts'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as file:  # a disk fault in the posts table
        file.seek((page - 1) * size)
        file.write(b"\xff" * size)
    result = aggregator("--config", config.path, "update", "-q", env=cli_env)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr == (
        f"aggregator: database error: {db}: database disk image is malformed; "
        "see docs/operations.md, 'Backups and recovery'\n"
    )


def test_commands_opening_an_old_database_together_migrate_it_once(
    write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # Right after an upgrade, cron's update and an owner's status open the database of
    # the earlier version together: both found the migrations pending, and one failed.
    from aggregator import store as stored

    config = write_config(["/ok.xml"])
    db = stored._connect(config.database)
    stored.migrations.apply(db, stop_before="m008_links_percent_encoded")
    now = "2026-11-01T00:00:00+00:00"
    db.execute("INSERT INTO feeds (url, name, added) VALUES ('https://b.example.net/feed', 'F', ?)", [now])
    with db.conn:
        db.conn.executemany(
            "INSERT INTO posts (id, feed_url, guid, link, title, published, date_source, first_seen, "
            "last_changed, content_hash) "
            "VALUES (?, 'https://b.example.net/feed', ?, ?, ?, ?, 'feed', ?, ?, 'x')",
            [
                (f"id{i:08d}", f"g{i}", f"https://b.example.net/a b/{i}", f"t{i}", now, now, now)
                for i in range(20_000)
            ],
        )
    db.close()
    commands = [
        subprocess.Popen(
            ["aggregator", "--config", config.path, "status"],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    results = [(c.wait(timeout=120), c.stderr.read() if c.stderr else "") for c in commands]
    assert [code for code, _ in results] == [0, 0, 0], results
    with contextlib.closing(sqlite3.connect(config.database)) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations WHERE name LIKE 'm008%'")]
        assert applied == ["m008_links_percent_encoded"]
        (link,) = conn.execute("SELECT link FROM posts WHERE id = 'id00000007'").fetchone()
        assert link == "https://b.example.net/a%20b/7"


def test_a_damaged_database_is_a_clear_error_and_is_not_backed_up(
    write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(["/ok.xml"])
    db = Path(config.database)
    _database_with_posts(db, "https://blog.example.net/feed.xml", 20)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'feeds'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as file:  # what a disk fault does to one page of the feeds table
        file.seek((page - 1) * size)
        file.write(b"\xff" * size)
    status = aggregator("--config", config.path, "status", env=cli_env)
    assert status.returncode == 3
    assert status.stderr == (
        f"aggregator: database error: {db}: database disk image is malformed; "
        "see docs/operations.md, 'Backups and recovery'\n"
    )
    copy = tmp_path / "copy.db"
    backup = aggregator("--config", config.path, "backup", str(copy), env=cli_env)
    assert backup.returncode == 3
    assert f"aggregator: database error: {db} is damaged" in backup.stderr
    assert "no backup was written" in backup.stderr and "Traceback" not in backup.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name) == []


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
    # Named with --feed, the skipped feed says why it was not fetched, and how to fetch it.
    named = aggregator("--config", config.path, "update", "-v", "--feed", "Gone Blog", env=cli_env)
    assert named.returncode == 0 and server.hits("/gone.xml") == 1
    assert named.stdout.splitlines() == [
        "  skipped: Gone Blog: not fetched: gone (HTTP 410); remove it from the configuration, "
        "or use --force",
        "1 feeds: 0 ok, 0 not modified, 0 failed, 1 skipped; 0 new posts, 0 updated",
    ]
    assert aggregator("--config", config.path, "update", "--force", env=cli_env).returncode == 0
    assert server.hits("/gone.xml") == 2
    back = aggregator("--config", config.path, "status", "--json", env=cli_env).stdout.splitlines()
    assert {row["name"]: row["state"] for row in map(json.loads, back)}["Gone Blog"] == "ok"


def test_a_feed_fetched_with_a_password_in_its_url_is_published_without_it(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # A private feed behind HTTP basic auth, its credentials in its URL: the fetch sends
    # them, and no published page or feed carries them (the OPML, the health page, each
    # entry's source).
    serve_fixture(server, "/private.xml", "rss2.xml")
    # A redirect loop: its error quotes the URL it stopped at.
    server.routes["/loop.xml"] = Route(status=302, headers={"Location": "/loop.xml"})
    secret_url = server.url("/private.xml").replace("://", "://alice:s3cretpw@")
    looping = server.url("/loop.xml").replace("://", "://alice:s3cretpw@")
    config = write_config([(secret_url, "Private Blog"), (looping, "Looping Blog")])
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    sent = [headers for path, headers in server.requests if path == "/private.xml"]
    assert sent and sent[0]["authorization"] == "Basic " + base64.b64encode(b"alice:s3cretpw").decode()
    site = tmp_path / "site"
    assert aggregator("--config", config.path, "build", "--out", str(site), env=cli_env).returncode == 0
    published = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert [name for name, body in published.items() if b"s3cretpw" in body or b"alice:" in body] == []
    outline = ET.fromstring(published["feeds/sources.opml"]).find("body/outline[@text='Private Blog']")
    assert outline is not None and outline.get("xmlUrl") == server.url("/private.xml")
    assert f'href="{server.url("/private.xml")}"' in published["health/private-blog.html"].decode()
    assert f"stopped at {server.url('/loop.xml')}" in published["health/looping-blog.html"].decode()


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


def test_dropped_with_a_feed_that_does_not_exist_says_so(
    write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # A typo in --feed must not read as "this feed dropped nothing".
    config = write_config([("/a.xml", "Alpha")])
    Store(config.database).close()
    result = aggregator("--config", config.path, "dropped", "--feed", "Alpah", env=cli_env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"aggregator: --feed 'Alpah' is neither the name nor the URL of a feed in {config.path} "
        "or the database; `aggregator status` lists them\n"
    )
    known = aggregator("--config", config.path, "dropped", "--feed", "Alpha", env=cli_env)
    assert known.returncode == 0, known.stderr
    assert known.stdout == "No dropped or held posts match.\n"


@pytest.mark.parametrize("since", ["2026/11/01", "1 Nov 2026", "yesterday"])
def test_dropped_since_that_is_not_a_date_is_refused(
    since: str, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    # Compared as text, any of these matched no post at all, and said so with exit status 0.
    config = write_config([("/a.xml", "Alpha")])
    Store(config.database).close()
    result = aggregator("--config", config.path, "dropped", "--since", since, env=cli_env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"Error: Invalid value for '--since': '{since}' does not match the format '%Y-%m-%d'." in (
        result.stderr
    )
    good = aggregator("--config", config.path, "dropped", "--since", "2026-11-01", env=cli_env)
    assert good.returncode == 0, good.stderr


def test_feed_topic_hints_are_checked_and_shown_on_the_sources_page_and_in_the_opml(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    serve_fixture(server, "/routing.xml", "rss2.xml")
    config = write_config([("/routing.xml", "Routing Notes")])
    path = Path(config.path)
    text = path.read_text()
    name = "    name: Routing Notes"
    path.write_text(text.replace(name, f"{name}\n    topics: [bgp, multicats]"))
    line = path.read_text().splitlines().index(name)  # 1-based, the entry's "- url:" line
    checked = aggregator("--config", config.path, "check", env=cli_env)
    assert checked.returncode == 2
    assert f"line {line}: feed Routing Notes: unknown topic 'multicats'; the topics are" in checked.stderr
    assert aggregator("--config", config.path, "update", env=cli_env).returncode == 0
    site = tmp_path / "site"
    refused = aggregator("--config", config.path, "build", "--out", str(site), env=cli_env)
    assert refused.returncode == 2 and "unknown topic 'multicats'" in refused.stderr
    assert not site.exists()

    path.write_text(text.replace(name, f"{name}\n    topics: [bgp, igp]"))
    assert aggregator("--config", config.path, "check", env=cli_env).returncode == 0
    assert aggregator("--config", config.path, "build", "--out", str(site), env=cli_env).returncode == 0
    sources = (site / "sources/index.html").read_text()
    links = '<a href="../topics/bgp/index.html">bgp</a>, <a href="../topics/igp/index.html">igp</a>'
    assert f"writes on {links}" in sources
    outline = ET.parse(site / "feeds/sources.opml").getroot().find("body/outline")
    assert outline is not None and outline.get("category") == "bgp,igp"


def test_dropped_limit_must_be_positive(write_config: WriteConfig, cli_env: dict[str, str]) -> None:
    # SQLite reads a negative LIMIT as none: "--limit -1" would list every dropped post.
    config = write_config([("/a.xml", "Alpha")])
    Store(config.database).close()
    result = aggregator("--config", config.path, "dropped", "--limit", "-1", env=cli_env)
    assert result.returncode == 2
    assert "Invalid value for '--limit': -1 is not in the range x>=1" in result.stderr


def test_a_killed_backups_partial_copy_is_removed_by_the_next_backup(
    write_config: WriteConfig, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # SIGKILL (or a power cut) leaves .NAME.PID.partial, as large as the database, under
    # a name no rotation matches; one whose process is gone is nobody's.
    config = write_config(["/ok.xml"])
    _database_with_posts(Path(config.database), "https://blog.example.net/feed.xml", 3)
    folder = tmp_path / "backups"
    folder.mkdir()
    dead_pid = subprocess.Popen(["true"])  # a pid that has ended
    dead_pid.wait()
    stale = folder / f".copy.db.{dead_pid.pid}.partial"
    stale.write_bytes(b"half a database" * 1000)
    Path(f"{stale}-journal").write_bytes(b"journal")
    live = folder / f".copy.db.{os.getpid()}.partial"  # this test's own process: alive
    live.write_bytes(b"someone else's copy in progress")
    result = aggregator("--config", config.path, "backup", str(folder / "copy.db"), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and not Path(f"{stale}-journal").exists()
    assert live.exists()
    assert _copied_posts(folder / "copy.db") == ("ok", 3)


def test_explain_refuses_what_cannot_be_a_post_id(write_config: WriteConfig, tmp_path: Path) -> None:
    config = write_config(["/ok.xml"])
    _database_with_posts(Path(config.database), "https://blog.example.net/feed.xml", 1)
    result = CliRunner().invoke(cli, ["--config", config.path, "explain", "ab\udcff"])
    assert result.exit_code == 1
    assert "is not a post id: ids are hex digits, as `aggregator dropped` prints them" in result.output


def test_label_refuses_nan_and_reads_a_lone_surrogate_as_a_replacement_character(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": NaN, "title": "x"}\n{"id": 1e999, "title": "y"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "label", str(rows)])
    assert result.exit_code == 1
    assert "line 1: NaN is not a JSON value" in result.output
    assert "line 2: 1e999 is too large to be a number here" in result.output
    rows.write_text(
        '{"id": "a", "title": "BGP route reflectors \\ud800", '
        '"summary": "Route reflector clusters \\udc00"}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "label", str(rows)])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["id"] == "a" and line["keep"] is True and line["tags"] == ["bgp"]


def test_sqlite_errors_get_the_fix_for_their_kind(tmp_path: Path) -> None:
    from aggregator.dbfile import RECOVERY, advice

    path = tmp_path / "a.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    waiting = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as busy:
        waiting.execute("INSERT INTO t VALUES (1)")
    assert advice(busy.value).startswith("another program holds the database")
    holder.execute("ROLLBACK")
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as readonly:
        read_only.execute("INSERT INTO t VALUES (1)")
    assert advice(readonly.value).startswith("it cannot be written: make the file")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError) as damaged:
        sqlite3.connect(tmp_path / "junk.db").execute("SELECT * FROM sqlite_master")
    assert advice(damaged.value) == RECOVERY
    for connection in (holder, waiting, read_only):
        connection.close()


def test_python_dash_m_runs_the_same_command_line(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aggregator", "--help"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: aggregator [OPTIONS] COMMAND")


def test_build_names_an_owners_file_it_cannot_read_instead_of_skipping_it(
    server: FeedServer, write_config: WriteConfig
) -> None:
    # The decisions' digest read an unreadable file as a missing one: after an update
    # settled with no overrides.yaml, a build went on as if there were none.
    serve_fixture(server, "/ok.xml", "rss2.xml")
    config = write_config(["/ok.xml"])
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", config.path, "update"]).exit_code == 0
    Path(config.path).with_name("overrides.yaml").mkdir()
    result = runner.invoke(cli, ["--config", config.path, "build"])
    assert result.exit_code == 2, result.output
    assert "overrides.yaml: 1 problem(s)" in result.output and "is a folder, not a file" in result.output
