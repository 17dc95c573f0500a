"""Storage and post identity: stable ids, no duplicates, changes updated in place."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from feedgen import Item, rss

from aggregator.errors import DatabaseError
from aggregator.parse import parse_feed
from aggregator.store import Store, backoff, migrations, post_id, stamp_of
from aggregator.types import FetchResult, Outcome

URL = "https://blog.example.net/feed.xml"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Harness:
    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.store.sync_feeds([], T0)
        self.store.db.execute(
            "INSERT OR IGNORE INTO feeds (url, name, kind, added) VALUES (?, 'Blog', 'blog', ?)",
            [URL, T0.isoformat()],
        )
        self.run = self.store.start_run(T0, 1)

    def store_doc(self, body: bytes, now: datetime = T0) -> tuple[int, int]:
        parsed = parse_feed(URL, body, {}, now)
        result = FetchResult(url=URL, status=200, body=body, outcome=Outcome.OK)
        outcome = self.store.record(self.run, result, parsed, now)
        return outcome.new, outcome.updated

    def rows(self) -> list[dict]:
        return list(self.store.db.query("SELECT * FROM posts ORDER BY title"))


def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "a.db")


def test_schema_is_created_by_recorded_migrations_in_wal_mode(tmp_path: Path) -> None:
    Store(tmp_path / "a.db").close()
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert applied == [
        "m001_initial",
        "m002_screening",
        "m003_topics",
        "m004_corrections",
        "m005_topic_journal",
        "m006_digests",
        "m007_partial_indexes",
        "m008_links_percent_encoded",
        "m009_digest_indexes",
        "m010_freshness",
        "m011_no_cite_attributes",
        "m012_settled",
        "m013_listed_at",
        "m014_explicit",
        "m015_body_hash",
        "m016_digests_by_mailbox",
    ]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"feeds", "posts", "runs", "fetch_log"} <= tables
    Store(tmp_path / "a.db").close()  # reopening applies nothing twice
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 16


def test_html_stored_with_a_cite_attribute_is_sanitized_again_on_upgrade(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.store_doc(rss(Item("RTBH notes", guid="r", body="<blockquote>quoted</blockquote>")))
    # As an earlier version stored it, when the sanitizer kept cite.
    h.store.db.execute(
        "UPDATE posts SET content_html = ?, summary_html = ?",
        ['<blockquote cite="javascript:alert(1)">quoted</blockquote>', '<q cite="data:x">q</q>'],
    )
    h.store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_no_cite_attributes'")
    h.store.close()
    h.store = Store(tmp_path / "a.db")
    (row,) = h.store.db.execute("SELECT content_html, summary_html FROM posts").fetchall()
    assert row == ("<blockquote>quoted</blockquote>", "<q>q</q>")


def test_the_cite_migration_keeps_a_long_post_whole(tmp_path: Path) -> None:
    # Sanitized HTML is longer than what it came from ("<" is "&lt;"): sanitizing it again
    # under the 500,000-character cap of new input would cut its end off.
    h = harness(tmp_path)
    h.store_doc(rss(Item("A long post", guid="l", body="<p>x</p>")))
    long = '<blockquote cite="javascript:x">' + "a &lt; b " * 70_000 + "THE END</blockquote>"
    h.store.db.execute("UPDATE posts SET content_html = ?", [long])
    h.store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_no_cite_attributes'")
    h.store.close()
    h.store = Store(tmp_path / "a.db")
    (content,) = h.store.db.execute("SELECT content_html FROM posts").fetchone()
    assert content.startswith("<blockquote>a &lt; b ") and content.endswith("THE END</blockquote>")


def test_refetching_the_same_content_creates_nothing(tmp_path: Path) -> None:
    h = harness(tmp_path)
    doc = rss(Item("BGP add-path", guid="a"), Item("OSPF LSAs", guid="b"))
    assert h.store_doc(doc) == (2, 0)
    ids = [r["id"] for r in h.rows()]
    assert h.store_doc(doc, T0 + timedelta(hours=1)) == (0, 0)
    assert [r["id"] for r in h.rows()] == ids


def test_changed_content_updates_in_place(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.store_doc(rss(Item("BGP add-path", guid="a", body="<p>v1</p>")))
    before = h.rows()[0]
    later = T0 + timedelta(hours=2)
    assert h.store_doc(rss(Item("BGP add-path (updated)", guid="a", body="<p>v2</p>")), later) == (0, 1)
    (after,) = h.rows()
    assert after["id"] == before["id"]
    assert after["title"] == "BGP add-path (updated)" and "v2" in after["content_html"]
    assert after["first_seen"] == before["first_seen"]  # still not a new post
    assert after["last_changed"] == later.isoformat(timespec="seconds")


def test_guid_churn_with_same_link_is_the_same_post(tmp_path: Path) -> None:
    h = harness(tmp_path)
    link = "https://blog.example.net/2026/11/rpki/"
    h.store_doc(rss(Item("RPKI ROV rollout", guid="wp-101", link=link)))
    assert h.store_doc(rss(Item("RPKI ROV rollout, revised", guid="urn:uuid:9f", link=link))) == (0, 1)
    (row,) = h.rows()
    assert row["title"] == "RPKI ROV rollout, revised"


def test_no_guid_identity_uses_link_without_tracking_parameters(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.store_doc(rss(Item("EVPN", link="https://blog.example.net/evpn/?utm_source=rss&utm_medium=feed")))
    assert h.store_doc(rss(Item("EVPN multihoming", link="https://blog.example.net/evpn/?fbclid=xyz"))) == (
        0,
        1,
    )
    assert [r["link"] for r in h.rows()] == ["https://blog.example.net/evpn/"]


def test_a_link_stored_before_links_were_encoded_is_still_the_same_post(tmp_path: Path) -> None:
    h = harness(tmp_path)
    doc = rss(Item("BGP communities, don't strip them", link="https://blog.example.net/don't-strip über"))
    assert h.store_doc(doc) == (1, 0)
    # The row as the earlier code stored it: the link raw, the id and the digest of the
    # entry made from the raw link.
    raw = "https://blog.example.net/don't-strip über"
    old_id = post_id(URL, "link", raw)
    h.store.db.execute("UPDATE posts SET id = ?, link = ?, content_hash = 'before'", [old_id, raw])
    # ... in a database of that version, which the next open migrates.
    h.store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_links_percent_encoded'")
    h.store.close()
    h.store = Store(tmp_path / "a.db")
    assert h.store_doc(doc) == (0, 1)  # found by its link, updated in place, not a second post
    (row,) = h.rows()
    assert row["id"] == old_id
    assert row["link"] == "https://blog.example.net/don%27t-strip%20%C3%BCber"


def test_no_guid_no_link_uses_title_and_date(tmp_path: Path) -> None:
    h = harness(tmp_path)
    doc = rss(
        Item("Weekly notes", date="Mon, 16 Nov 2026 08:00:00 GMT"),
        Item("Weekly notes", date="Mon, 23 Nov 2026 08:00:00 GMT"),
    )
    assert h.store_doc(doc) == (2, 0)
    assert h.store_doc(doc) == (0, 0)


def test_a_new_post_with_an_old_ones_title_is_a_new_post_once_the_old_one_left_the_feed(
    tmp_path: Path,
) -> None:
    # No guid, no link: title and date tell the weeks apart, even when last week's post
    # has left the feed (only a re-dated episode with the same audio is the same post).
    h = harness(tmp_path)
    assert h.store_doc(rss(Item("Weekly notes", date="Mon, 16 Nov 2026 08:00:00 GMT"))) == (1, 0)
    assert h.store_doc(rss(Item("Weekly notes", date="Mon, 23 Nov 2026 08:00:00 GMT"))) == (1, 0)
    assert len(h.rows()) == 2


@pytest.mark.parametrize(
    ("first", "second", "posts"),
    [
        # A weekly post under one title with one fixed enclosure (latest.mp3, a logo):
        # different notes, a long shared opening with different endings, or no notes at
        # all are different posts; the same notes re-dated are the same episode.
        ("<p>Week one: OSPF areas.</p>", "<p>Week two: BGP communities.</p>", 2),
        (
            "<p>" + "This week on the show. " * 20 + "OSPF.</p>",
            "<p>" + "This week on the show. " * 20 + "BGP.</p>",
            2,
        ),
        ("", "", 2),
        ("<p>Week one: OSPF areas.</p>", "<p>Week one: OSPF areas.</p>", 1),
    ],
)
def test_a_weekly_title_with_one_fixed_enclosure_is_one_post_only_with_the_same_notes(
    tmp_path: Path, first: str, second: str, posts: int
) -> None:
    h = harness(tmp_path)
    latest = "https://m.example.net/latest.mp3"

    def week(day: int, notes: str) -> bytes:
        return rss(Item("Show notes", enclosure=latest, date=f"Mon, {day} Nov 2026 08:00:00 GMT", body=notes))

    assert h.store_doc(week(16, first)) == (1, 0)
    h.store_doc(week(23, second))
    assert len(h.rows()) == posts


def test_episodes_sharing_one_link_stay_separate(tmp_path: Path) -> None:
    # Many podcast feeds point every episode at the show's home page.
    h = harness(tmp_path)
    home = "https://pod.example.net/"
    doc = rss(
        *(
            Item(f"Episode {n}", guid=f"ep-{n}", link=home, enclosure=f"https://m.example.net/{n}.mp3")
            for n in range(1, 4)
        )
    )
    assert h.store_doc(doc) == (3, 0)
    more = rss(
        *(
            Item(f"Episode {n}", guid=f"ep-{n}", link=home, enclosure=f"https://m.example.net/{n}.mp3")
            for n in range(1, 5)
        )
    )
    assert h.store_doc(more) == (1, 0)
    assert len(h.rows()) == 4


def test_posts_a_generator_gives_one_shared_guid_are_each_kept_and_never_overwritten(tmp_path: Path) -> None:
    h = harness(tmp_path)

    def lab(n: int) -> Item:
        return Item(
            f"Lab {n}: OSPF areas",
            guid="lab",
            link=f"https://blog.example.net/lab-{n}/",
            date=f"Mon, {10 + n} Nov 2026 08:00:00 GMT",
        )

    assert h.store_doc(rss(*(lab(n) for n in range(1, 5)))) == (4, 0)
    assert parse_feed(URL, rss(lab(1), lab(2)), {}, T0).warning == (
        "2 posts share a guid with other posts ('lab'): told apart by their links, else titles and dates"
    )
    # The next post under the same guid is one more post; the others stay as they were.
    assert h.store_doc(rss(*(lab(n) for n in range(0, 5)))) == (1, 0)
    assert sorted(r["title"] for r in h.rows()) == [f"Lab {n}: OSPF areas" for n in range(5)]
    # The feed shrinks to one of them, edited: the guid is no longer shared in the
    # document, yet it still names five stored posts. That one post is updated, by its
    # link; before, it overwrote another post, which was lost.
    edited = Item("Lab 4: OSPF areas, revised", guid="lab", link="https://blog.example.net/lab-4/")
    assert h.store_doc(rss(edited)) == (0, 1)
    assert sorted((r["link"], r["title"]) for r in h.rows()) == [
        *((f"https://blog.example.net/lab-{n}/", f"Lab {n}: OSPF areas") for n in range(4)),
        ("https://blog.example.net/lab-4/", "Lab 4: OSPF areas, revised"),
    ]


def test_episodes_without_guids_that_all_link_to_the_show_are_each_kept(tmp_path: Path) -> None:
    h = harness(tmp_path)
    home = "https://pod.example.net/"

    def episode(n: int) -> Item:
        return Item(
            f"Episode {n}",
            link=home,
            enclosure=f"https://m.example.net/{n}.mp3",
            date=f"Mon, {10 + n} Nov 2026 08:00:00 GMT",
        )

    assert h.store_doc(rss(*(episode(n) for n in range(1, 4)))) == (3, 0)
    assert h.store_doc(rss(*(episode(n) for n in range(1, 5)))) == (1, 0)
    assert len(h.rows()) == 4

    # The show re-dates its episodes a day later: still four episodes, with their dates.
    def redated(n: int) -> Item:
        return Item(
            f"Episode {n}",
            link=home,
            enclosure=f"https://m.example.net/{n}.mp3",
            date=f"Mon, {11 + n} Nov 2026 08:00:00 GMT",
        )

    assert h.store_doc(rss(*(redated(n) for n in range(1, 5)))) == (0, 4)
    assert sorted(r["published"][:10] for r in h.rows()) == [f"2026-11-{10 + n}" for n in range(1, 5)]


def test_duplicate_flood_in_one_document_stores_each_post_once(tmp_path: Path) -> None:
    h = harness(tmp_path)
    doc = rss(*[Item("Same post", guid="dup")] * 500, Item("Other", guid="other"))
    assert h.store_doc(doc) == (2, 0)


def test_a_post_the_feed_re_dates_later_keeps_its_place_and_an_earlier_date_is_taken(tmp_path: Path) -> None:
    # A CMS migration re-stamps the archive with today's date: the old posts must not
    # climb above the new ones. A date corrected to an earlier one is taken.
    h = harness(tmp_path)
    link = "https://blog.example.net/2026/11/isis-levels/"
    h.store_doc(rss(Item("IS-IS levels", guid="i", link=link, date="Mon, 16 Nov 2026 08:00:00 GMT")))
    later = rss(
        Item("IS-IS levels", guid="i", link=link, date="Tue, 24 Nov 2026 09:00:00 GMT", body="<p>new</p>")
    )
    assert h.store_doc(later, T0) == (0, 1)
    (row,) = h.rows()
    assert row["published"] == "2026-11-16T08:00:00+00:00"
    earlier = rss(
        Item("IS-IS levels", guid="i", link=link, date="Sun, 15 Nov 2026 08:00:00 GMT", body="<p>x</p>")
    )
    assert h.store_doc(earlier, T0) == (0, 1)
    (row,) = h.rows()
    assert row["published"] == "2026-11-15T08:00:00+00:00"


def test_undated_post_keeps_its_first_seen_date(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.store_doc(rss(Item("Undated", guid="u", date=None)), T0)
    h.store_doc(rss(Item("Undated", guid="u", date=None, body="<p>edited</p>")), T0 + timedelta(days=3))
    (row,) = h.rows()
    assert row["published"] == T0.isoformat(timespec="seconds")
    assert row["date_source"] == "first_seen"


def test_undated_posts_of_one_fetch_keep_the_feeds_order(tmp_path: Path) -> None:
    # A feed without dates lists its newest first: the river must show them that way,
    # not in the order of their ids.
    h = harness(tmp_path)
    titles = [f"Undated {letter}" for letter in "ABCDEF"]
    h.store_doc(rss(*(Item(t, guid=t, date=None) for t in titles)), T0)
    assert [r["title"] for r in h.store.published_posts()] == titles  # the river's order
    assert {r["first_seen"] for r in h.rows()} == {T0.isoformat(timespec="seconds")}


def test_post_row_keeps_everything_a_publisher_gave(tmp_path: Path) -> None:
    from conftest import fixture_bytes

    h = harness(tmp_path)
    h.store_doc(fixture_bytes("podcast.xml"))
    row = next(r for r in h.rows() if r["guid"] == "pod-ep-12")
    assert row["duration"] == 3723 and row["episode"] == 12
    assert json.loads(row["enclosures"])[0]["url"] == "https://media.example.net/ep12.mp3"
    assert [c["title"] for c in json.loads(row["chapters"])] == [
        "Intro",
        "PIM sparse mode",
        "Listener questions",
    ]
    assert len(row["content_hash"]) == 64 and row["excerpt"]


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1) == timedelta(minutes=15)
    assert backoff(2) == timedelta(minutes=30)
    assert backoff(4) == timedelta(hours=2)
    assert backoff(40) == timedelta(hours=24)


def test_runs_find_overridden_and_corrected_posts_without_reading_every_post(tmp_path: Path) -> None:
    # Every run asks for them; a full scan would read each post past its content.
    Store(tmp_path / "a.db").close()
    conn = sqlite3.connect(tmp_path / "a.db")
    for where in ("override IS NOT NULL", "corrected = 1"):
        plan = " ".join(
            str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT id FROM posts WHERE {where}")
        )
        assert "USING INDEX" in plan, plan


def test_a_missing_database_is_created_whole_and_leaves_nothing_else(tmp_path: Path) -> None:
    # Made under another name and linked into place: the folder holds the database only.
    Store(tmp_path / "new" / "a.db").close()
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["a.db"]
    conn = sqlite3.connect(tmp_path / "new" / "a.db")
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 16


def test_a_database_from_an_earlier_version_opens_and_catches_up(tmp_path: Path) -> None:
    # The schema as the aggregator left it before m004 (corrections), with a feed in it.
    old = sqlite_utils.Database(tmp_path / "old.db")
    migrations.apply(old, stop_before="m004_corrections")
    old.execute("INSERT INTO feeds (url, name, added) VALUES (?, 'Blog', ?)", [URL, T0.isoformat()])
    old.close()
    with Store(tmp_path / "old.db") as store:
        assert [f["name"] for f in store.feeds()] == ["Blog"]
        applied = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert applied[-1] == "m016_digests_by_mailbox" and len(applied) == 16
        assert "corrected" in store.db["posts"].columns_dict


def test_a_database_made_before_the_body_hash_column_can_be_updated(tmp_path: Path) -> None:
    # The days before 2026-11-25 made feeds without body_hash (it was added to m001
    # itself later): every migration was recorded, and every update failed on the column.
    h = harness(tmp_path)
    h.store_doc(rss(Item("Before", guid="a")))
    h.store.db.execute("ALTER TABLE feeds DROP COLUMN body_hash")
    h.store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm015_body_hash'")
    h.store.close()
    h.store = Store(tmp_path / "a.db")
    h.store_doc(rss(Item("Before", guid="a"), Item("After", guid="b")))
    assert sorted(p["title"] for p in h.store.posts()) == ["After", "Before"]
    assert "body_hash" in h.store.db["feeds"].columns_dict


def test_a_database_whose_commits_are_still_in_its_wal_opens(tmp_path: Path) -> None:
    # A process killed before its WAL was copied into the file (here an earlier version
    # that made the database in place): the file alone has no tables, the WAL has them.
    db = tmp_path / "a.db"
    script = (
        "import os, sys, sqlite_utils\n"
        "from aggregator.store import migrations\n"
        "db = sqlite_utils.Database(sys.argv[1])\n"
        "db.enable_wal()\n"
        "migrations.apply(db)\n"
        "db.execute(\"INSERT INTO feeds (url, name, added) VALUES ('u', 'Killed', 'now')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, env=os.environ)
    assert Path(f"{db}-wal").stat().st_size > 0
    with Store(db) as store:
        assert [f["name"] for f in store.feeds()] == ["Killed"]


def test_a_database_from_a_newer_version_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    # A newer version migrated it further (an m009 this version does not have): writing
    # to it would store rows without what the newer schema expects of them.
    db = tmp_path / "a.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('aggregator', 'm009_from_the_future', '2027-01-01')"
        )
    conn.close()
    before = db.read_bytes()
    try:
        Store(db).close()
    except DatabaseError as exc:
        assert "newer version of the aggregator" in str(exc)
        assert "m009_from_the_future" in str(exc)
    else:
        raise AssertionError("a database from a newer version was opened")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]


def test_an_hourly_run_for_a_year_keeps_the_run_log_bounded(tmp_path: Path) -> None:
    # fetch_log gets a row per feed per run: a planet of 1,000 feeds run hourly had
    # 8.76 million rows (1.1 GB of a 1.5 GB database) after a year, and kept growing.
    # Runs and their rows older than 30 days are deleted as each run finishes.
    store = Store(tmp_path / "a.db")
    urls = [f"https://blog{i}.example.net/feed.xml" for i in range(3)]
    for day in range(90):
        for hour in range(0, 24, 6):
            now = T0 + timedelta(days=day, hours=hour)
            run = store.start_run(now, 1)
            outcomes = [
                store.record(run, FetchResult(url=u, status=304, outcome=Outcome.NOT_MODIFIED), None, now)
                for u in urls
            ]
            store.finish_run(run, now, outcomes)
        if day == 20:
            assert store.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 21 * 4  # none expired yet
    runs = store.db.execute("SELECT count(*) FROM runs").fetchone()[0]
    logged = store.db.execute("SELECT count(*) FROM fetch_log").fetchone()[0]
    assert runs == 30 * 4 + 1 and logged == runs * len(urls)  # 30 days of runs, each with its rows
    oldest = store.db.execute("SELECT min(started) FROM runs").fetchone()[0]
    assert oldest == (now - timedelta(days=30)).isoformat()
    orphans = "SELECT count(*) FROM fetch_log WHERE run_id NOT IN (SELECT id FROM runs)"
    assert store.db.execute(orphans).fetchone()[0] == 0
    assert store.last_run()["id"] == run  # type: ignore[index]


def test_a_post_dated_days_ahead_keeps_the_date_it_was_first_seen_at(tmp_path: Path) -> None:
    # Dated when first seen (its pubDate was more than 48 hours ahead), it jumped above
    # the newer posts once its date came within 48 hours.
    h = harness(tmp_path)
    ahead = Item("Scheduled: BGP maintenance window", guid="s", date="Fri, 27 Nov 2026 09:00:00 GMT")
    h.store_doc(rss(ahead))
    (row,) = h.rows()
    assert (row["published"], row["date_source"]) == (stamp_of(T0), "first_seen")
    later = T0 + timedelta(days=2)
    h.store_doc(rss(Item("Posted on the 26th", guid="n", date="Thu, 26 Nov 2026 10:00:00 GMT"), ahead), later)
    dates = {r["title"]: (r["published"], r["date_source"]) for r in h.rows()}
    assert dates["Scheduled: BGP maintenance window"] == (stamp_of(T0), "first_seen")
    assert dates["Posted on the 26th"] == ("2026-11-26T10:00:00+00:00", "feed")
