"""Cron safety with real subprocesses: one writer at a time, SIGKILL at any moment is harmless."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

from conftest import Clock, WriteConfig
from feedgen import Item, rss

from aggregator.feedserver import FeedServer, Route
from aggregator.feedstatus import LONGEST_WAIT
from aggregator.fetch import MAX_RETRY_AFTER
from aggregator.pipeline import update
from aggregator.store import BACKOFF_MAX, Store
from aggregator.types import Outcome

FEEDS = 24
ITEMS = 15


def start(config_path: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["aggregator", "--config", config_path, "update", "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached before the deadline")


def logged(db: str) -> int:
    # Read-only: a plain connect would make an empty file where the run has not yet made
    # the database, and the run would rightly refuse that file.
    try:
        with sqlite3.connect(f"{Path(db).as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0])
    except sqlite3.Error:
        return 0


def processes_with(marker: str) -> list[int]:
    """Processes (fork server, parser workers...) that inherited this environment marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def slow_feeds(server: FeedServer, delay: float) -> list[str]:
    paths = []
    for i in range(FEEDS):
        body = rss(
            *(
                Item(f"Post {i}.{j}", guid=f"g{i}-{j}", link=f"https://b{i}.example.net/{j}/")
                for j in range(ITEMS)
            )
        )
        server.routes[f"/f{i}"] = Route(body=body, etag=f'"e{i}"', delay=delay * (i % 4))
        paths.append(f"/f{i}")
    return paths


def test_second_run_exits_quickly_while_the_first_holds_the_lock(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    config = write_config(slow_feeds(server, 0.15), fetch="per_host: 1")
    first = start(config.path, cli_env)
    lock = Path(f"{config.database}.lock")
    wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
    began = time.monotonic()
    second = subprocess.run(
        ["aggregator", "--config", config.path, "update", "-q"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode == 0
    assert f"another aggregator run (pid {first.pid})" in second.stderr
    assert time.monotonic() - began < 5
    assert first.poll() is None  # the first is still at work, undisturbed
    # status says the run is at work, not that it "did not finish".
    status = subprocess.run(
        ["aggregator", "--config", config.path, "status"], env=cli_env, capture_output=True, text=True
    )
    assert f"is running now (pid {first.pid})" in status.stdout, status.stdout
    assert first.wait(timeout=60) == 0
    status = subprocess.run(
        ["aggregator", "--config", config.path, "status"], env=cli_env, capture_output=True, text=True
    )
    assert "finished:" in status.stdout and "running now" not in status.stdout
    with sqlite3.connect(config.database) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == FEEDS * ITEMS
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_sigkill_at_any_moment_loses_and_duplicates_nothing(
    server: FeedServer, write_config: WriteConfig, cli_env: dict[str, str]
) -> None:
    config = write_config(slow_feeds(server, 0.05), fetch="per_host: 1")
    db = config.database
    marker = f"AGGREGATOR_TEST_RUN={uuid.uuid4()}"
    cli_env = {**cli_env, "AGGREGATOR_TEST_RUN": marker.split("=", 1)[1]}
    # Kill before the database exists, then after 1, 5, 11 and 17 feeds were stored.
    killed = 0
    for stored in (0, 1, 5, 11, 17):
        proc = start(config.path, cli_env)
        if stored:
            wait_for(lambda s=stored, p=proc: logged(db) >= s or p.poll() is not None)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        if proc.wait() != -signal.SIGKILL:
            # On a loaded machine a run can finish before the kill reaches it: then it
            # must have finished cleanly, and this moment is not a kill.
            assert proc.returncode == 0, proc.communicate()
            continue
        killed += 1
        # The parser workers and their fork server leave with the killed run.
        wait_for(lambda: not processes_with(marker), timeout=10)
        if stored:  # the lock file still names the killed run; status sees it is gone
            status = subprocess.run(
                ["aggregator", "--config", config.path, "status"], env=cli_env, capture_output=True, text=True
            )
            assert "did not finish (interrupted?)" in status.stdout, status.stdout
    assert killed >= 3, "too few runs were killed mid-way to test anything"
    final = start(config.path, cli_env)
    _, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == FEEDS * ITEMS
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM posts GROUP BY feed_url, guid HAVING count(*) > 1)"
        ).fetchone()[0]
        assert dupes == 0
        # Every feed ends with its validator stored, so the next run asks with If-None-Match.
        assert conn.execute("SELECT count(*) FROM feeds WHERE etag IS NOT NULL").fetchone()[0] == FEEDS
        interrupted = conn.execute("SELECT count(*) FROM runs WHERE finished IS NULL").fetchone()[0]
        assert interrupted >= 1
    again = start(config.path, cli_env)
    again.communicate(timeout=60)
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT not_modified, new_posts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row == (FEEDS, 0)


def test_a_clock_that_went_back_does_not_keep_a_failed_feed_waiting_for_the_jump(
    server: FeedServer, write_config: WriteConfig, clock: Clock
) -> None:
    # A run while the clock was a year ahead (a board booted with a wrong clock) failed a
    # fetch and set its next fetch 15 minutes after *that* time; once the clock was put
    # right, every run skipped the feed "waiting until" next year, though no backoff or
    # Retry-After is ever longer than a week.
    server.routes["/f"] = Route(body=b"busy", status=503)
    config = write_config(["/f"])
    real = clock.now
    clock.now = real + timedelta(days=365)
    with Store(config.database) as store:
        assert update(config, store, clock=clock).outcomes[0].outcome is Outcome.ERROR
        server.routes["/f"] = Route(body=rss(Item("BGP route reflection", guid="g1")))
        clock.now = real + timedelta(hours=1)
        summary = update(config, store, clock=clock)
        assert [o.outcome for o in summary.outcomes] == [Outcome.OK], [o.error for o in summary.outcomes]
        assert summary.line().endswith("1 new posts, 0 updated")
    # ... while a real wait, the longest backoff or Retry-After, is still honoured.
    assert max(BACKOFF_MAX, timedelta(seconds=MAX_RETRY_AFTER)) <= LONGEST_WAIT
