"""SQLite storage through sqlite-utils. With dbfile.py (is a file ours; backups), the only
module that runs SQL.

The schema is created and changed only by the recorded migrations below. Each feed's
result is written in one transaction (its posts, its HTTP validators and its state
together), so a run killed at any moment leaves every feed either fully updated or
untouched, and the next run completes the rest.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .baseline import FLOOD_POSTS, FLOOD_USUAL_DAYS, FLOOD_WINDOW_DAYS, Baseline, is_flood, judge
from .dbfile import advice, is_new_database
from .errors import DatabaseError
from .oneline import one_line
from .overrides import Overrides
from .topics.corrections import Corrections
from .types import (
    FeedConfig,
    FeedOutcome,
    FetchResult,
    Outcome,
    ParsedEntry,
    ParsedFeed,
    StoredVerdict,
    shared_guids,
)
from .urls import clean_link, feed_key, resolve

migrations = Migrations("aggregator")

BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=24)
# How long the runs table and fetch_log keep a run: a planet of 1,000 feeds run every
# 30 minutes adds 48,000 fetch_log rows a day, over 2 GB a year if nothing is deleted.
RUN_LOG_KEPT = timedelta(days=30)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'blog',
            title TEXT,
            link TEXT,
            language TEXT,
            etag TEXT,
            last_modified TEXT,
            last_status INTEGER,
            last_fetch TEXT,
            last_success TEXT,
            consecutive_errors INTEGER NOT NULL DEFAULT 0,
            next_fetch TEXT,
            last_error TEXT,
            last_warning TEXT,
            redirect_url TEXT,
            body_hash TEXT,
            gone INTEGER NOT NULL DEFAULT 0,
            added TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE posts (
            id TEXT PRIMARY KEY,
            feed_url TEXT NOT NULL REFERENCES feeds(url),
            guid TEXT,
            link TEXT,
            title TEXT NOT NULL DEFAULT '',
            authors TEXT NOT NULL DEFAULT '[]',
            published TEXT NOT NULL,
            updated TEXT,
            date_source TEXT NOT NULL,
            date_note TEXT,
            first_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            content_html TEXT NOT NULL DEFAULT '',
            summary_html TEXT NOT NULL DEFAULT '',
            excerpt TEXT NOT NULL DEFAULT '',
            enclosures TEXT NOT NULL DEFAULT '[]',
            duration INTEGER,
            episode INTEGER,
            season INTEGER,
            chapters TEXT NOT NULL DEFAULT '[]',
            chapters_url TEXT,
            image TEXT,
            content_hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX posts_feed_guid ON posts(feed_url, guid)")
    db.execute("CREATE INDEX posts_feed_link ON posts(feed_url, link)")
    db.execute("CREATE INDEX posts_published ON posts(published)")
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            pid INTEGER,
            feeds INTEGER NOT NULL DEFAULT 0,
            ok INTEGER NOT NULL DEFAULT 0,
            not_modified INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            new_posts INTEGER NOT NULL DEFAULT 0,
            updated_posts INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            feed_url TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            status INTEGER,
            error TEXT,
            new_posts INTEGER NOT NULL DEFAULT 0,
            updated_posts INTEGER NOT NULL DEFAULT 0,
            elapsed_ms INTEGER
        )"""
    )
    db.execute("CREATE INDEX fetch_log_feed ON fetch_log(feed_url, run_id)")


@migrations()
def m002_screening(db: sqlite_utils.Database) -> None:
    # What screening decided (screen_*), and what is published after overrides (status).
    for column, kind in (
        ("status", "TEXT NOT NULL DEFAULT 'kept'"),
        ("reason", "TEXT"),
        ("screen_status", "TEXT"),
        ("screen_reason", "TEXT"),
        ("override", "TEXT"),
        ("lang", "TEXT"),
        ("score", "REAL"),
        ("scores", "TEXT"),
        ("model_version", "TEXT"),
        ("screened_at", "TEXT"),
    ):
        db.execute(f"ALTER TABLE posts ADD COLUMN {column} {kind}")
    db.execute("CREATE INDEX posts_status ON posts(status, published)")
    for column, kind in (
        ("base_screened", "INTEGER NOT NULL DEFAULT 0"),
        ("base_kept", "INTEGER NOT NULL DEFAULT 0"),
        ("base_lang", "TEXT"),
        ("departures", "INTEGER NOT NULL DEFAULT 0"),
        ("quarantined", "TEXT"),
        ("quarantine_reason", "TEXT"),
    ):
        db.execute(f"ALTER TABLE feeds ADD COLUMN {column} {kind}")


@migrations()
def m003_topics(db: sqlite_utils.Database) -> None:
    # tags: the post's topics as JSON [{topic, score, terms}]; post_topics: the same,
    # one row per topic, for pages and feeds that list a topic's posts.
    db.execute("ALTER TABLE posts ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
    db.execute(
        """CREATE TABLE post_topics (
            post_id TEXT NOT NULL REFERENCES posts(id),
            topic TEXT NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (post_id, topic)
        )"""
    )
    db.execute("CREATE INDEX post_topics_topic ON post_topics(topic, post_id)")


@migrations()
def m004_corrections(db: sqlite_utils.Database) -> None:
    # 1 when the owner's corrections decide a post's published topics.
    db.execute("ALTER TABLE posts ADD COLUMN corrected INTEGER NOT NULL DEFAULT 0")


@migrations()
def m005_topic_journal(db: sqlite_utils.Database) -> None:
    # post_topics was written row by row as feeds were stored, at random places in its
    # indexes, which cost as much as storing the posts. Now a run appends each stored
    # post's topics to topic_journal (in the post's own transaction) and moves them into
    # post_topics once, in key order, at its end; a run killed before then leaves the
    # journal for the next run. A row with topic NULL clears the post's earlier topics.
    # Keyed by topic first and without a rowid, post_topics is a single B-tree.
    db.execute(
        """CREATE TABLE topic_journal (
            id INTEGER PRIMARY KEY,
            post_id TEXT NOT NULL,
            topic TEXT,
            score REAL
        )"""
    )
    db.execute(
        """CREATE TABLE post_topics_new (
            topic TEXT NOT NULL,
            post_id TEXT NOT NULL REFERENCES posts(id),
            score REAL NOT NULL,
            PRIMARY KEY (topic, post_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT INTO post_topics_new (topic, post_id, score) "
        "SELECT topic, post_id, score FROM post_topics ORDER BY topic, post_id"
    )
    db.execute("DROP TABLE post_topics")
    # Posts are looked up by feed (posts_feed_guid serves that), never by feed and link.
    db.execute("DROP INDEX IF EXISTS posts_feed_link")
    db.execute("ALTER TABLE post_topics_new RENAME TO post_topics")


@migrations()
def m006_digests(db: sqlite_utils.Database) -> None:
    # One row per digest sent: a subscriber's digest for a period goes out once.
    db.execute(
        """CREATE TABLE digests (
            subscriber TEXT NOT NULL,
            period TEXT NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            posts INTEGER NOT NULL,
            message_id TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (subscriber, period)
        )"""
    )


@migrations()
def m007_partial_indexes(db: sqlite_utils.Database) -> None:
    # Every run looks for overridden and corrected posts, usually none: without these
    # the lookups read every row to its last columns, past the content.
    db.execute("CREATE INDEX posts_overridden ON posts(override) WHERE override IS NOT NULL")
    db.execute("CREATE INDEX posts_corrected ON posts(corrected) WHERE corrected = 1")


@migrations()
def m008_links_percent_encoded(db: sqlite_utils.Database) -> None:
    # Links stored before clean_link percent-encoded them (a raw quote, space or non-ASCII
    # character, a lower-case escape) are normalized once: a post is then found by its
    # link as it is fetched now, not stored a second time, and nothing raw is published.
    for table, key in (("posts", "id"), ("feeds", "url")):
        rows = db.execute(f"SELECT {key}, link FROM {table} WHERE link IS NOT NULL").fetchall()
        changed = [(normal, k) for k, link in rows if (normal := clean_link(link)) != link]
        db.conn.executemany(f"UPDATE {table} SET link = ? WHERE {key} = ?", changed)


@migrations()
def m009_digest_indexes(db: sqlite_utils.Database) -> None:
    # A digest reads the kept posts first stored in its period, and their topics. Without
    # these each subscriber's digest read every kept post to its first_seen, then every
    # row of post_topics once per post found: 3.7 s a subscriber with 150,000 posts.
    db.execute("CREATE INDEX posts_kept_first_seen ON posts(status, first_seen)")
    db.execute("CREATE INDEX post_topics_post ON post_topics(post_id)")


@migrations()
def m010_freshness(db: sqlite_utils.Database) -> None:
    # A server's Cache-Control or Expires, or a feed's <ttl>, says how long a fetched feed
    # stays fresh: next_fetch then holds the fetch back, fresh_by names what asked for it,
    # and ttl keeps the feed's <ttl> for the 304s that follow (which carry no feed).
    db.execute("ALTER TABLE feeds ADD COLUMN ttl INTEGER")
    db.execute("ALTER TABLE feeds ADD COLUMN fresh_by TEXT")


@migrations()
def m011_no_cite_attributes(db: sqlite_utils.Database) -> None:
    # The sanitizer once kept `cite` on blockquote, q, del and ins, a URL whose scheme it
    # never checked ("javascript:" passed into our feeds). Stored HTML that has one is
    # sanitized again, a few hundred rows at a time (a year of full posts is gigabytes).
    from .sanitize import clean_again

    last = -1
    while True:
        rows = db.execute(
            "SELECT rowid, content_html, summary_html FROM posts WHERE rowid > ? "
            "AND (content_html LIKE '%cite=%' OR summary_html LIKE '%cite=%') ORDER BY rowid LIMIT 200",
            [last],
        ).fetchall()
        if not rows:
            return
        db.conn.executemany(
            "UPDATE posts SET content_html = ?, summary_html = ? WHERE rowid = ?",
            [(clean_again(content), clean_again(summary), rowid) for rowid, content, summary in rows],
        )
        last = rows[-1][0]


@migrations()
def m012_settled(db: sqlite_utils.Database) -> None:
    # What overrides.yaml and corrections.yaml held (a digest) when a run's posts were
    # last settled with them: build and digest then need not settle the same again.
    db.execute("ALTER TABLE runs ADD COLUMN settled TEXT")


@migrations()
def m013_listed_at(db: sqlite_utils.Database) -> None:
    # When a post was published after it was first stored (a quarantine released, an
    # override that allows it): the digests tell it then. Before, a digest chose posts by
    # first_seen alone, and a post released later was in none.
    db.execute("ALTER TABLE posts ADD COLUMN listed_at TEXT")
    # Partial: almost every post has none, and an insert then costs no index entry.
    db.execute("CREATE INDEX posts_kept_listed_at ON posts(status, listed_at) WHERE listed_at IS NOT NULL")


@migrations()
def m014_explicit(db: sqlite_utils.Database) -> None:
    # An episode's itunes:explicit (1, 0, or NULL when its feed says nothing): the podcast
    # feeds published every episode as clean.
    db.execute("ALTER TABLE posts ADD COLUMN explicit INTEGER")


@migrations()
def m015_body_hash(db: sqlite_utils.Database) -> None:
    # feeds.body_hash was added to m001 itself (2026-11-24) instead of in a migration of
    # its own: a database made the days before had every migration and not the column,
    # and every update then failed on it.
    if "body_hash" not in db["feeds"].columns_dict:
        db.execute("ALTER TABLE feeds ADD COLUMN body_hash TEXT")


@migrations()
def m016_digests_by_mailbox(db: sqlite_utils.Database) -> None:
    # A subscriber is one mailbox whatever the case of its address: the digests are looked
    # up so (COLLATE NOCASE), which the primary key's binary order cannot serve.
    db.execute("CREATE INDEX IF NOT EXISTS digests_by_mailbox ON digests (subscriber COLLATE NOCASE, period)")


def _lone_titles(existing: list[Any], entries: Iterable[ParsedEntry]) -> dict[str, Any]:
    """Title -> the stored post (row) of a feed whose title no other stored post and no
    other entry of the fetched document has."""
    stored = collections.Counter(row[3] for row in existing if row[3])
    fetched = collections.Counter(entry.title for entry in entries)
    return {row[3]: row for row in existing if row[3] and stored[row[3]] == 1 and fetched[row[3]] == 1}


def _redirect(url: str | None) -> str | None:
    """A permanent redirect's target as stored and shown: percent-encoded where the
    server sent characters a URL may not carry (control characters among them)."""
    return (resolve(url, None) or one_line(url)) if url else None


def iso(value: datetime | None) -> str | None:
    return None if value is None else stamp_of(value)


def stamp_of(value: datetime) -> str:
    """A time as stored: UTC, ISO 8601, to the second."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")


def _json_list(items: Iterable[Any]) -> str:
    values = [i if isinstance(i, str) else asdict(i) for i in items]
    return json.dumps(values, ensure_ascii=False) if values else "[]"


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def post_id(feed_url: str, kind: str, key: str) -> str:
    return hashlib.sha256(f"{feed_url}\x00{kind}\x00{key}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    next_fetch: datetime | None
    gone: bool
    consecutive_errors: int
    body_hash: str | None = None
    fresh_by: str | None = None  # what holds a fetched feed back until next_fetch (no errors)


@dataclass(frozen=True)
class StoreCounts:
    new: int
    updated: int


# A freshness shorter than this does not hold a feed back: the next run is later anyway.
MIN_FRESH_WAIT = 60.0


def fresh_wait(fetched: FetchResult, ttl: int | None, longest: float) -> tuple[timedelta | None, str | None]:
    """How long a fetched feed stays fresh, and what says so: the longer of the server's
    word (Cache-Control max-age or Expires) and the feed's <ttl>, at most `longest`
    seconds (fetch.max_fresh_wait). (None, None) when neither says a minute or more."""
    said = []
    if fetched.fresh_for is not None:
        said.append((fetched.fresh_for, fetched.fresh_by or "Cache-Control"))
    if ttl:
        said.append((float(ttl), f"the feed's <ttl>{ttl // 60}</ttl>"))
    if not said or longest <= 0:
        return None, None
    seconds, why = max(said)
    seconds = min(seconds, longest)
    if seconds < MIN_FRESH_WAIT:
        return None, None
    return timedelta(seconds=seconds), why


def _id_range(prefix: str) -> tuple[str, str]:
    """The ids that start with prefix are those in [low, high): a range, not LIKE, so a
    '%' or '_' typed into it is a character, not a wildcard. Ids are lower-case hex; one
    copied in capitals is the same id."""
    low = prefix.lower()
    return low, low + "\U0010ffff"


def backoff(errors: int) -> timedelta:
    """Wait after `errors` consecutive failures: 15 min, 30 min, 1 h ... at most 24 h."""
    if errors <= 0:
        return timedelta(0)
    wait: timedelta = BACKOFF_BASE * (2 ** min(errors - 1, 16))
    return min(wait, BACKOFF_MAX)


# A new database's page size. A post's row is ~5 KB (its HTML, excerpt and scores), so in
# SQLite's default 4 KB pages every row spills into overflow pages; each page a commit
# writes costs two write() calls into the WAL and one more when it is checkpointed. In
# 16 KB pages storing a first run makes a third as many write() calls: ~8 us less a post
# (40 -> 32 us, the checkpoint included). The page cache is sized in KB (cache_size), so
# memory stays the same. An existing database keeps the page size it was made with.
PAGE_SIZE = 16384


def _connect(path: str, page_size: int | None = None) -> sqlite_utils.Database:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    if page_size:  # only a new, empty file takes it: set before WAL writes the header
        conn.execute(f"PRAGMA page_size = {page_size}")
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA busy_timeout = 30000")
    db.enable_wal()
    # WAL + NORMAL: a committed transaction survives a killed process; only
    # an OS crash can lose the last ones, which the next run fetches again.
    db.execute("PRAGMA synchronous = NORMAL")
    # A first run writes hundreds of MB: a 16 MB page cache keeps the indexes'
    # pages in memory, and checkpointing every 16 MB of WAL (not 4) copies each
    # hot page to the database file fewer times.
    db.execute("PRAGMA cache_size = -16000")
    db.execute("PRAGMA wal_autocheckpoint = 4000")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _create(path: Path) -> None:
    """A new database at `path`, which has no file: made and migrated under another
    name beside it, then linked into place whole. A process killed half way leaves no
    empty or schema-less file at `path`, which the next run would have to refuse."""
    draft = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.new")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _discard(draft)  # from an earlier attempt of this same process and thread
        db = _connect(str(draft), PAGE_SIZE)
        try:
            migrations.apply(db)
        finally:
            db.close()  # the last connection: the WAL goes into the file, -wal and -shm go
        try:
            os.link(draft, path)  # never replaces: a database another process made first is used
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
    except (OSError, sqlite3.Error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DatabaseError(
            f"{path} does not exist and cannot be created ({why}); check that its folder is "
            "writable and has room"
        ) from exc
    finally:
        _discard(draft)


def _discard(draft: Path) -> None:
    for leftover in (draft, Path(f"{draft}-wal"), Path(f"{draft}-shm"), Path(f"{draft}-journal")):
        with contextlib.suppress(OSError):  # missing, or a read-only folder that holds none
            leftover.unlink()


@contextlib.contextmanager
def _migrating(path: str) -> Iterator[None]:
    """One process at a time migrates a database (`<database>.migrate`, a lock the
    kernel drops with the process): cron's update and an owner's status opening it
    together after an upgrade both found the migrations pending, and one failed. The
    others wait, then find nothing left to do. A folder where the lock file cannot be
    made (read-only) cannot hold a migrated database either: no lock there."""
    try:
        fd = os.open(f"{path}.migrate", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            known = [m.name for m in migrations._migrations]
            if is_new_database(Path(self.path), migrations.name, known):
                _create(Path(self.path))
            self.db = _connect(self.path)
            if migrations.pending(self.db):  # a database from an earlier version catches up
                with _migrating(self.path):
                    migrations.apply(self.db)  # what is pending once the turn is ours
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"{self.path}: cannot open or migrate the database ({exc}); {advice(exc)}"
            ) from exc
        except OSError as exc:
            raise DatabaseError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        """A write transaction, or a savepoint inside the one already open.

        BEGIN IMMEDIATE takes the write lock at once, waiting (busy_timeout) while
        another connection writes: the run's parser workers write their own batches.
        A deferred transaction that reads first and writes later would instead fail at
        once with "database is locked" when another writer committed in between.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def batch(self) -> Any:
        """One transaction around several record() calls; each stays all or nothing."""
        return self._tx()

    # -- feeds --------------------------------------------------------------

    def sync_feeds(self, feeds: Iterable[FeedConfig], now: datetime) -> list[tuple[str, str]]:
        """Add configured feeds, update names and kinds; return the feeds that moved.

        When a new URL in the configuration is the permanent redirect a stored feed
        reported, or the same URL spelt otherwise (feed_key), and that feed's old URL is
        no longer configured, the owner has taken the suggestion or re-spelt it: the
        feed keeps its history under the new URL instead of starting over and storing
        every post a second time.
        """
        feeds = list(feeds)
        rows = [(f.url, f.name, f.kind.value, iso(now)) for f in feeds]
        configured = {f.url for f in feeds}
        stored = {row[0]: row[1] for row in self.db.execute("SELECT url, redirect_url FROM feeds")}
        moves = []
        for url in configured - stored.keys():
            # The suggested URL taken, or the same feed spelt otherwise (a trailing slash,
            # the host's capitals, the default port): `check` calls them one feed, so the
            # store does too, and a suggestion taken and re-spelt is both.
            key = feed_key(url)
            moved = [o for o, target in stored.items() if target and feed_key(target) == key]
            old = next((o for o in moved if o not in configured), None)
            if old is None:
                old = next((o for o in stored if o not in configured and feed_key(o) == key), None)
            if old is not None:
                moves.append((old, url))
        with self._tx():
            self.db.execute("PRAGMA defer_foreign_keys = ON")
            for old, new in moves:
                self.db.execute("UPDATE feeds SET url = ?, redirect_url = NULL WHERE url = ?", [new, old])
                self.db.execute("UPDATE posts SET feed_url = ? WHERE feed_url = ?", [new, old])
                self.db.execute("UPDATE fetch_log SET feed_url = ? WHERE feed_url = ?", [new, old])
            self.db.conn.executemany(
                """INSERT INTO feeds (url, name, kind, added) VALUES (?, ?, ?, ?)
                ON CONFLICT(url) DO UPDATE SET name = excluded.name, kind = excluded.kind""",
                rows,
            )
        return moves

    def feed_states(self) -> dict[str, FeedState]:
        out = {}
        for row in self.db.query(
            "SELECT url, etag, last_modified, next_fetch, gone, consecutive_errors, body_hash, fresh_by "
            "FROM feeds"
        ):
            out[row["url"]] = FeedState(
                url=row["url"],
                etag=row["etag"],
                last_modified=row["last_modified"],
                next_fetch=parse_iso(row["next_fetch"]),
                gone=bool(row["gone"]),
                consecutive_errors=row["consecutive_errors"],
                body_hash=row["body_hash"],
                fresh_by=row["fresh_by"],
            )
        return out

    def feeds(self, urls: Iterable[str] | None = None) -> list[dict[str, Any]]:
        rows = list(self.db.query("SELECT * FROM feeds ORDER BY name COLLATE NOCASE, url"))
        if urls is None:
            return rows
        wanted = {u: i for i, u in enumerate(urls)}
        return sorted((r for r in rows if r["url"] in wanted), key=lambda r: wanted[r["url"]])

    # -- runs ---------------------------------------------------------------

    def start_run(self, now: datetime, pid: int) -> int:
        with self._tx():
            cursor = self.db.execute("INSERT INTO runs (started, pid) VALUES (?, ?)", [iso(now), pid])
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, now: datetime, outcomes: Iterable[FeedOutcome]) -> None:
        items = list(outcomes)

        def n(kind: Outcome) -> int:
            return sum(1 for o in items if o.outcome is kind)

        with self._tx():
            self.db.execute(
                """UPDATE runs SET finished = ?, feeds = ?, ok = ?, not_modified = ?, failed = ?,
                skipped = ?, new_posts = ?, updated_posts = ? WHERE id = ?""",
                [
                    iso(now),
                    len(items),
                    n(Outcome.OK),
                    n(Outcome.NOT_MODIFIED),
                    n(Outcome.ERROR) + n(Outcome.GONE),
                    n(Outcome.SKIPPED),
                    sum(o.new for o in items),
                    sum(o.updated for o in items),
                    run_id,
                ],
            )
        self.prune_run_log(now - RUN_LOG_KEPT, run_id)

    def prune_run_log(self, before: datetime, current: int) -> None:
        """Delete the runs started before `before` (never `current`) and their fetch_log rows.

        A run's fetch_log rows are appended while it holds the run lock, so their ids
        grow with the run's: the expired rows are the first ones, found by reading only
        them, not the whole table. `run_id <= last` keeps any row out of that order.
        """
        row = self.db.execute(
            "SELECT max(id) FROM runs WHERE started < ? AND id < ?", [iso(before), current]
        ).fetchone()
        last = row[0] if row else None
        if last is None:
            return
        with self._tx():
            self.db.execute(
                """DELETE FROM fetch_log WHERE run_id <= :last AND id < coalesce(
                    (SELECT id FROM fetch_log WHERE run_id > :last ORDER BY id LIMIT 1),
                    (SELECT max(id) FROM fetch_log) + 1)""",
                {"last": last},
            )
            self.db.execute("DELETE FROM runs WHERE id <= ?", [last])

    def settled(self) -> str | None:
        """The digest of the owner's files the latest run's posts were settled with
        (None: not settled since that run stored them, as when it was killed)."""
        row = self.db.execute("SELECT settled FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def mark_settled(self, digest: str) -> None:
        with self._tx():
            self.db.execute("UPDATE runs SET settled = ? WHERE id = (SELECT max(id) FROM runs)", [digest])

    def last_run(self) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1"))
        return rows[0] if rows else None

    # -- results ------------------------------------------------------------

    def record(
        self,
        run_id: int,
        fetched: FetchResult,
        parsed: ParsedFeed | None,
        now: datetime,
        error: str | None = None,
        verdicts: Mapping[str, StoredVerdict] | None = None,
        threshold: float = 0.5,
        max_fresh_wait: float = 0.0,
    ) -> FeedOutcome:
        """Store one feed's result (posts, validators, state, log) in one transaction.
        max_fresh_wait: the longest the response's freshness (fetch.max_fresh_wait) holds
        the feed's next fetch back; 0, the next run fetches it."""
        outcome = fetched.outcome
        error = error or fetched.error
        if error and outcome in (Outcome.OK, Outcome.NOT_MODIFIED):
            outcome = Outcome.ERROR
        counts = StoreCounts(0, 0)
        with self._tx():
            if outcome is Outcome.OK and parsed is not None:
                counts = self._store_entries(fetched.url, parsed, now, verdicts, threshold)
                self._feed_success(fetched, parsed, now, max_fresh_wait)
            elif outcome is Outcome.NOT_MODIFIED:
                self._feed_success(fetched, None, now, max_fresh_wait)
            else:
                self._feed_failure(fetched, outcome, error or "unknown error", now)
            self.db.execute(
                """INSERT INTO fetch_log (run_id, feed_url, at, outcome, status, error,
                new_posts, updated_posts, elapsed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    fetched.url,
                    iso(now),
                    outcome.value,
                    fetched.status,
                    error,
                    counts.new,
                    counts.updated,
                    round(fetched.elapsed * 1000),
                ],
            )
        return FeedOutcome(
            url=fetched.url,
            outcome=outcome,
            status=fetched.status,
            new=counts.new,
            updated=counts.updated,
            error=error,
            elapsed=fetched.elapsed,
        )

    def record_skip(self, run_id: int, url: str, reason: str, now: datetime) -> FeedOutcome:
        with self._tx():
            self.db.execute(
                "INSERT INTO fetch_log (run_id, feed_url, at, outcome, error) VALUES (?, ?, ?, ?, ?)",
                [run_id, url, iso(now), Outcome.SKIPPED.value, reason],
            )
        return FeedOutcome(url=url, outcome=Outcome.SKIPPED, error=reason)

    def _feed_success(
        self, fetched: FetchResult, parsed: ParsedFeed | None, now: datetime, max_fresh_wait: float
    ) -> None:
        ttl = parsed.ttl if parsed is not None else None
        if parsed is None and max_fresh_wait > 0:
            # A 304 carries no feed: the <ttl> is the one its last body had.
            row = self.db.execute("SELECT ttl FROM feeds WHERE url = ?", [fetched.url]).fetchone()
            ttl = row[0] if row else None
        wait, fresh_by = fresh_wait(fetched, ttl, max_fresh_wait)
        self.db.execute(
            """UPDATE feeds SET etag = ?, last_modified = ?, last_status = ?, last_fetch = ?,
            last_success = ?, consecutive_errors = 0, next_fetch = ?, fresh_by = ?,
            ttl = CASE WHEN ? THEN ? ELSE ttl END, last_error = NULL, redirect_url = ?, gone = 0,
            title = coalesce(?, title), link = coalesce(?, link), language = coalesce(?, language)
            WHERE url = ?""",
            [
                fetched.etag,
                fetched.last_modified,
                fetched.status,
                iso(now),
                iso(now),
                iso(now + wait) if wait else None,
                fresh_by if wait else None,
                parsed is not None,  # a body says the feed's <ttl> (or that it has none now)
                ttl,
                _redirect(fetched.permanent_redirect),
                (parsed.title or None) if parsed else None,
                parsed.link if parsed else None,
                parsed.language if parsed else None,
                fetched.url,
            ],
        )
        if parsed is not None:  # a 304 keeps what the last parse found
            self.db.execute(
                "UPDATE feeds SET last_warning = ?, body_hash = ? WHERE url = ?",
                [parsed.warning and one_line(parsed.warning), fetched.body_hash, fetched.url],
            )

    def _feed_failure(self, fetched: FetchResult, outcome: Outcome, error: str, now: datetime) -> None:
        row = self.db.execute("SELECT consecutive_errors FROM feeds WHERE url = ?", [fetched.url]).fetchone()
        errors = (row[0] if row else 0) + 1
        wait = backoff(errors)
        if fetched.retry_after is not None:
            wait = max(wait, timedelta(seconds=fetched.retry_after))
        gone = outcome is Outcome.GONE
        # A gone feed has no next fetch: no run asks for it again unless forced.
        next_fetch = None if gone else iso(now + wait)
        # A permanent redirect to an address that is not there (404, 410) is no address
        # to move to: not suggested. One suggested before (when the address worked) stays:
        # a 404 may pass, and the owner who takes it keeps the feed's history.
        dead_end = fetched.status in (404, 410)
        self.db.execute(
            """UPDATE feeds SET last_status = ?, last_fetch = ?, consecutive_errors = ?,
            next_fetch = ?, fresh_by = NULL, last_error = ?, gone = ?,
            redirect_url = coalesce(?, redirect_url) WHERE url = ?""",
            [
                fetched.status,
                iso(now),
                errors,
                next_fetch,
                one_line(error),
                1 if gone else 0,
                None if dead_end else _redirect(fetched.permanent_redirect),
                fetched.url,
            ],
        )

    def _store_entries(
        self,
        feed_url: str,
        parsed: ParsedFeed,
        now: datetime,
        verdicts: Mapping[str, StoredVerdict] | None = None,
        threshold: float = 0.5,
    ) -> StoreCounts:
        existing = list(
            self.db.execute(
                "SELECT id, guid, link, title, published, date_source, content_hash, explicit "
                "FROM posts WHERE feed_url = ?",
                [feed_url],
            ).fetchall()
        )
        by_id = {row[0]: row for row in existing}
        # A guid several stored posts carry (a document gave it to all of them, each told
        # apart by its link) identifies none of them, even once the feed carries it once:
        # matched by it, one post took another's place.
        stored_guids = collections.Counter(row[1] for row in existing if row[1])
        by_guid = {row[1]: row for row in existing if row[1] and stored_guids[row[1]] == 1}
        by_link = {row[2]: row for row in existing if row[2]}
        by_title = {(row[3], row[4]): row for row in existing if row[3]}
        lone_titles: dict[str, Any] | None = None  # made when first needed: rarely
        guids_now = {e.guid for e in parsed.entries if e.guid}
        shared = shared_guids(parsed.entries) | {g for g, n in stored_guids.items() if n > 1}
        link_counts: dict[str, int] = {}
        for e in parsed.entries:
            if e.link:
                link_counts[e.link] = link_counts.get(e.link, 0) + 1

        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        rerated: list[tuple[int | None, str]] = []  # (explicit, id) of unchanged posts a show re-rated
        stamp = stamp_of(now)
        undated = 0
        seen_ids: set[str] = set()
        for entry in parsed.entries:
            if not (entry.guid or entry.link or entry.title):
                continue  # nothing to identify or show
            # A guid the document gives to different posts (a generator that writes one
            # for all) identifies none of them: their links, else titles and dates, do.
            guid = entry.guid if entry.guid not in shared else None
            match = by_guid.get(guid) if guid else None
            distinctive_link = entry.link and link_counts.get(entry.link) == 1
            if match is None and distinctive_link:
                candidate = by_link.get(entry.link or "")
                # Same page under a new guid: a publisher that churned its GUIDs, as long
                # as the old guid is gone from the feed (else these are two posts).
                if candidate is not None and (
                    not candidate[1] or candidate[1] not in guids_now or candidate[1] in shared
                ):
                    match = candidate
            date = entry.published or entry.updated
            if match is None and date is not None:
                candidate = by_title.get((entry.title, iso(date)))
                # Same title and date under a new guid and link: a feed that mints them on
                # every request (else each run stores its posts again), as long as the old
                # post's guid and link are gone from the feed (else these are two posts).
                if (
                    candidate is not None
                    and candidate[1] not in guids_now
                    and candidate[2] not in link_counts
                ):
                    match = candidate
            if match is None and not guid and not distinctive_link:
                match = by_title.get((entry.title, iso(date) if date else None))
                if match is None and entry.enclosures:
                    if lone_titles is None:
                        lone_titles = _lone_titles(existing, parsed.entries)
                    match = self._redated_episode(entry, lone_titles.get(entry.title))
            if match is not None:
                pid = match[0]
            elif guid:
                pid = post_id(feed_url, "guid", guid)
            elif distinctive_link:
                pid = post_id(feed_url, "link", entry.link or "")
            else:
                # Episodes that all link to the show's page, posts under one shared guid:
                # their titles and dates tell them apart.
                pid = post_id(feed_url, "title", f"{entry.title}\x00{iso(date) or ''}")
            if pid in seen_ids:
                continue  # the same post twice in one document: keep the first
            seen_ids.add(pid)
            digest = entry.content_hash
            row = match or by_id.get(pid)
            if row is not None and row[6] == digest:
                # The same post; only its rating, which the content hash leaves out (so that
                # episodes stored before ratings were kept are not changed posts), may differ.
                rating = entry.podcast.explicit if entry.podcast else None
                stored = None if rating is None else int(rating)
                if row[7] != stored:  # rated, re-rated, or a rating withdrawn
                    rerated.append((stored, row[0]))
                continue
            undated_stamp = stamp
            if row is None and entry.published is None and entry.updated is None:
                # Undated posts new in one fetch: a second apart, in the feed's order
                # (its first the newest), not all at one time in the order of their ids.
                undated_stamp = stamp_of(now - timedelta(seconds=undated))
                undated += 1
            record = self._row(pid, feed_url, entry, digest, stamp, row, undated_stamp)
            (updates if row is not None else inserts).append(record)

        self._screen_rows(feed_url, inserts, updates, verdicts, threshold, now)
        if inserts:
            self._insert(inserts)
        if updates:
            self._update(updates)
        if rerated:
            self.db.conn.executemany("UPDATE posts SET explicit = ? WHERE id = ?", rerated)
        return StoreCounts(new=len(inserts), updated=len(updates))

    def _redated_episode(self, entry: ParsedEntry, candidate: Any) -> Any:
        """The stored post an episode told apart by title and date (episodes that all
        link to the show) still is when the show re-dates it: the one stored post of its
        title, with its audio and the very same, non-empty notes, else None. (A weekly
        post under one title with one fixed enclosure, a logo or latest.mp3, has other
        notes; notes edited as well as re-dated make a second post, which is better than
        folding one post into another.)"""
        notes = (entry.content_html, entry.summary_html)
        if candidate is None or not any(notes):
            return None
        stored = self.db.execute(
            "SELECT enclosures, content_html, summary_html FROM posts WHERE id = ?", [candidate[0]]
        ).fetchone()
        audio = json.dumps(entry.enclosures[0].url, ensure_ascii=False)  # as stored
        if stored is None or audio not in (stored[0] or "") or tuple(stored[1:]) != notes:
            return None
        return candidate

    def apply_overrides(self, overrides: Overrides, now: datetime) -> int:
        """Publish what the owner allowed, drop what they denied, restore the rest; a post
        published now is listed now (the next digests tell it)."""
        changed = 0
        query = (
            "SELECT id, link, feed_url, status, reason, screen_status, screen_reason, override, listed_at "
            "FROM posts"
        )
        if not overrides:
            query += " WHERE override IS NOT NULL"
        rows = self.db.execute(query).fetchall()
        updates = []
        listed: list[str] = []
        for pid, link, feed_url, status, reason, screen_status, screen_reason, current, listed_at in rows:
            decision = overrides.decide(pid, link, feed_url)
            want: tuple[str, str | None, str | None]
            if decision == "allow":
                want = ("kept", None, "allow")
            elif decision == "deny":
                # The reason stays screening's own (none when screening kept the post):
                # the override, not the model, dropped it, and `override` says so.
                want = ("dropped", screen_reason, "deny")
            else:
                want = (screen_status or "kept", screen_reason, None)
            if (status, reason, current) != want:
                updates.append((*want, pid))
                # Listed once, when an override first publishes a post screening did not
                # keep (a digest told the others by first_seen): lifting a deny, or an
                # allowed post edited and allowed again, is not news.
                if want[0] == "kept" and status != "kept" and screen_status != "kept" and listed_at is None:
                    listed.append(pid)
        if updates:
            with self._tx():
                self.db.conn.executemany(
                    "UPDATE posts SET status = ?, reason = ?, override = ? WHERE id = ?", updates
                )
                self.db.conn.executemany(
                    "UPDATE posts SET listed_at = ? WHERE id = ?", [(stamp_of(now), pid) for pid in listed]
                )
            changed = len(updates)
        return changed

    def apply_corrections(self, corrections: Corrections) -> int:
        """Publish corrected topics (post_topics); restore the model's where no longer corrected."""
        query = "SELECT id, link, feed_url, tags, corrected FROM posts"
        if not corrections.items:
            query += " WHERE corrected = 1"
        rewritten: list[tuple[str, bool]] = []
        published: list[tuple[str, str, float]] = []
        with self._tx():
            for pid, link, feed_url, tags_json, corrected in self.db.execute(query).fetchall():
                model = {t["topic"]: t["score"] for t in json.loads(tags_json or "[]")}
                wanted = corrections.topics(pid, link, feed_url, set(model))
                if wanted is None and not corrected:
                    continue
                topics = set(model) if wanted is None else wanted
                rewritten.append((pid, wanted is not None))
                published += [(t, pid, model.get(t, 1.0)) for t in topics]
            if rewritten:
                # One pass over post_topics (keyed by topic) for all the posts at once.
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS rewritten (id TEXT PRIMARY KEY)")
                self.db.execute("DELETE FROM temp.rewritten")
                self.db.conn.executemany(
                    "INSERT INTO temp.rewritten (id) VALUES (?)", [(p,) for p, _ in rewritten]
                )
                self.db.execute("DELETE FROM post_topics WHERE post_id IN (SELECT id FROM temp.rewritten)")
                self.db.conn.executemany(
                    "INSERT INTO post_topics (topic, post_id, score) VALUES (?, ?, ?)", sorted(published)
                )
                self.db.conn.executemany(
                    "UPDATE posts SET corrected = ? WHERE id = ?", [(c, p) for p, c in rewritten]
                )
        return len(rewritten)

    def corrected_posts(self) -> list[dict[str, Any]]:
        """Corrected posts with their published topics: training rows for the topic model.
        Only published English posts: a correction that also names a dropped, held or
        denied post (a broad url: pattern) must not teach the topic model spam's words."""
        rows = self.db.query(
            "SELECT p.id, p.title, p.excerpt, group_concat(t.topic) AS topics FROM posts p "
            "LEFT JOIN post_topics t ON t.post_id = p.id "
            "WHERE p.corrected = 1 AND p.status = 'kept' AND coalesce(p.lang, 'en') = 'en' "
            "GROUP BY p.id ORDER BY p.id"
        )
        return [
            {
                "id": r["id"],
                "title": r["title"],
                "summary": r["excerpt"],
                "topics": [t for t in (r["topics"] or "").split(",") if t],
            }
            for r in rows
        ]

    def bound_fresh_waits(self, max_fresh_wait: float) -> int:
        """Bring the waits freshness set (fetched feeds, no errors) within the setting now:
        lowered, a wait ends max_fresh_wait after the feed's last fetch; 0, the next run
        fetches it. Returns how many changed."""
        rows = self.db.execute(
            "SELECT url, next_fetch, last_fetch FROM feeds WHERE fresh_by IS NOT NULL "
            "AND next_fetch IS NOT NULL AND consecutive_errors = 0"
        ).fetchall()
        changed: list[tuple[str | None, str]] = []
        for url, next_fetch, last_fetch in rows:
            fetched = parse_iso(last_fetch)
            if max_fresh_wait <= 0 or fetched is None:
                changed.append((None, url))  # the next run fetches it
                continue
            bound = fetched + timedelta(seconds=max_fresh_wait)
            if datetime.fromisoformat(next_fetch) > bound:
                changed.append((iso(bound), url))
        if changed:
            with self._tx():
                self.db.conn.executemany(
                    "UPDATE feeds SET next_fetch = ?1, "
                    "fresh_by = CASE WHEN ?1 IS NULL THEN NULL ELSE fresh_by END WHERE url = ?2",
                    changed,
                )
        return len(changed)

    def release(self, feed_url: str, now: datetime) -> int:
        """End a feed's quarantine: its held posts are published (those an override denies
        stay dropped: held_denied() counts them). Returns how many were held.

        The baseline forgets the posts the incident dropped: it counts the published ones
        (the released among them) as all the feed screened. Left in, a hijack's dropped
        pages brought the keep rate under MIN_KEEP_RATE, the baseline no longer counted,
        and the next hijack of the same feed was never quarantined."""
        with self._tx():
            cursor = self.db.execute(
                """UPDATE posts SET screen_status = 'kept', screen_reason = NULL,
                status = CASE WHEN override = 'deny' THEN status ELSE 'kept' END, reason = NULL,
                listed_at = CASE WHEN override = 'deny' OR status = 'kept' THEN listed_at
                    ELSE coalesce(listed_at, ?) END
                WHERE feed_url = ? AND screen_status = 'held'""",
                [stamp_of(now), feed_url],
            )
            released = int(cursor.rowcount)
            self.db.execute(
                """UPDATE feeds SET quarantined = NULL, quarantine_reason = NULL, departures = 0,
                base_kept = base_kept + ?, base_screened = base_kept + ?
                WHERE url = ? AND quarantined IS NOT NULL""",
                [released, released, feed_url],
            )
        return released

    def denied_kept(self) -> int:
        """How many posts screening keeps and an override denies: taken off the site."""
        row = self.db.execute(
            "SELECT count(*) FROM posts WHERE override = 'deny' AND screen_status = 'kept'"
        ).fetchone()
        return int(row[0])

    def held_denied(self, feed_url: str) -> int:
        """How many of a feed's held posts an override denies: release() does not publish them."""
        row = self.db.execute(
            "SELECT count(*) FROM posts WHERE feed_url = ? AND screen_status = 'held' AND override = 'deny'",
            [feed_url],
        ).fetchone()
        return int(row[0])

    def dropped(
        self, feed: str | None = None, reason: str | None = None, since: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        where, args = ["p.status != 'kept'"], []
        if feed:
            where.append("(p.feed_url = ? OR f.name = ?)")
            args += [feed, feed]
        if reason:
            where.append("p.reason = ?")
            args.append(reason)
        if since:
            where.append("p.published >= ?")
            args.append(since)
        sql = (
            "SELECT p.id, p.published, p.status, p.reason, p.override, p.lang, p.score, p.title, p.link, "
            "f.name AS feed FROM posts p JOIN feeds f ON f.url = p.feed_url WHERE "
            + " AND ".join(where)
            + " ORDER BY p.published DESC, p.id LIMIT ?"
        )
        return list(self.db.query(sql, [*args, limit]))

    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to limit post ids that start with prefix, in order (see _id_range)."""
        query = "SELECT id FROM posts WHERE id >= ? AND id < ? ORDER BY id LIMIT ?"
        rows = self.db.execute(query, [*_id_range(prefix), limit])
        return [post_id for (post_id,) in rows]

    def published_topics(self, post_id: str) -> list[str]:
        """The topics a post is published under (corrections applied), sorted."""
        rows = self.db.execute("SELECT topic FROM post_topics WHERE post_id = ? ORDER BY topic", [post_id])
        return [topic for (topic,) in rows]

    def post(self, post_id: str) -> dict[str, Any] | None:
        """The post with this id, or the one post whose id starts with it (see ids_starting)."""
        low, high = _id_range(post_id)
        rows = list(
            self.db.query(
                "SELECT p.*, f.name AS feed_name FROM posts p JOIN feeds f ON f.url = p.feed_url "
                "WHERE p.id >= ? AND p.id < ? ORDER BY p.id LIMIT 2",
                [low, high],
            )
        )
        return rows[0] if len(rows) == 1 or (rows and rows[0]["id"] == low) else None

    def content_hashes(self, feed_url: str) -> frozenset[str]:
        """A feed's stored post digests: what needs no screening again. Asked per feed
        that sent a body: reading them for every feed would read every post (the digest
        is stored after the content)."""
        rows = self.db.execute("SELECT content_hash FROM posts WHERE feed_url = ?", [feed_url])
        return frozenset(digest for (digest,) in rows)

    def usual_languages(self) -> dict[str, str]:
        rows = self.db.execute("SELECT url, base_lang FROM feeds WHERE base_lang IS NOT NULL")
        return {url: lang for url, lang in rows}

    def baseline(self, feed_url: str) -> Baseline:
        row = self.db.execute(
            "SELECT base_screened, base_kept, base_lang, departures, quarantined FROM feeds WHERE url = ?",
            [feed_url],
        ).fetchone()
        if row is None:
            return Baseline()
        return Baseline(row[0], row[1], row[2], row[3], row[4] is not None)

    def _flood(
        self, feed_url: str, inserts: list[dict[str, Any]], now: datetime, base: Baseline
    ) -> str | None:
        """Why this fetch's new posts are a flood for a feed with this baseline
        (baseline.is_flood), or None."""
        if len(inserts) <= FLOOD_POSTS:
            return None
        since = iso(now - timedelta(days=FLOOD_WINDOW_DAYS))
        recent = sum(1 for row in inserts if row["published"] >= since)
        if not is_flood(base, recent, usual=0):  # the month's count can only raise the bar
            return None
        usual = self.db.execute(
            "SELECT count(*) FROM posts WHERE feed_url = ? AND published >= ?",
            [feed_url, iso(now - timedelta(days=FLOOD_USUAL_DAYS))],
        ).fetchone()[0]
        if not is_flood(base, recent, usual):
            return None
        return (
            f"a flood: {recent} new posts dated in the last {FLOOD_WINDOW_DAYS} days (or undated) in "
            f"one fetch, against {usual} in the {FLOOD_USUAL_DAYS} days before; a hijacked feed?"
        )

    def _screen_rows(
        self,
        feed_url: str,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        verdicts: Mapping[str, StoredVerdict] | None,
        threshold: float,
        now: datetime,
    ) -> None:
        """Apply each new or changed post's verdict and the feed's baseline, oldest first;
        a flood of new posts (_flood) puts the feed into quarantine first."""
        rows = inserts + updates
        if not rows or verdicts is None:
            return
        base = self.baseline(feed_url)
        start = base
        screened_at = stamp_of(now)
        reason_for_quarantine = None
        flood = self._flood(feed_url, inserts, now, base)
        if flood is not None:
            base = replace(base, quarantined=True)
            reason_for_quarantine = flood
        for row in sorted(rows, key=lambda r: (r["published"], r["id"])):
            verdict = verdicts.get(row["content_hash"])
            if verdict is None:
                continue
            judgement = judge(base, verdict, threshold)
            base = judgement.baseline
            scores = verdict.scores_json
            if judgement.note:
                noted = json.loads(scores)
                noted["baseline"] = judgement.note
                scores = json.dumps(noted, ensure_ascii=False, sort_keys=True)
            if judgement.quarantined_now:
                reason_for_quarantine = (
                    f"{base.departures} posts in a row departed from this feed's usual "
                    f"language ({base.usual_lang}) or topic, the last one {row['id']}"
                )
            row.update(
                tags=verdict.tags_json,
                topics=verdict.topics,
                status=judgement.status,
                reason=judgement.reason,
                screen_status=judgement.status,
                screen_reason=judgement.reason,
                lang=verdict.lang,
                score=round(verdict.score, 4),
                scores=scores,
                model_version=verdict.model_version,
                screened_at=screened_at,
            )
        if base != start:
            self.db.execute(
                """UPDATE feeds SET base_screened = ?, base_kept = ?, base_lang = ?, departures = ?,
                quarantined = CASE WHEN ? THEN coalesce(quarantined, ?) ELSE quarantined END,
                quarantine_reason = coalesce(?, quarantine_reason) WHERE url = ?""",
                [
                    base.screened,
                    base.kept,
                    base.usual_lang,
                    base.departures,
                    base.quarantined,
                    iso(now),
                    reason_for_quarantine,
                    feed_url,
                ],
            )

    @staticmethod
    def _row(
        pid: str,
        feed_url: str,
        entry: ParsedEntry,
        digest: str,
        stamp: str,
        old: Any,
        undated_stamp: str | None = None,
    ) -> dict[str, Any]:
        """A post's row; stamp: the run's time as stored (iso(now)), made once per feed;
        undated_stamp: the date a new undated post gets (stamp when not given)."""
        date = entry.published or entry.updated
        if date is not None and old is not None and iso(date) > old[4]:
            # A stored post the feed re-dates later (a CMS migration re-stamping its
            # archive, a bumped pubDate, a post dated days ahead that was dated when first
            # seen) keeps its place: an update must not move old posts above the new ones
            # on the river, in the feeds and the digests.
            published, source = old[4], old[5]
        elif date is not None:
            published, source = iso(date), "feed"
        elif old is not None:
            # Keep the first-seen date an undated post got on its first fetch.
            published, source = old[4], old[5]
        else:
            published, source = undated_stamp or stamp, "first_seen"
        podcast = entry.podcast
        return {
            "id": pid,
            "feed_url": feed_url,
            "guid": entry.guid,
            "link": entry.link,
            "title": entry.title,
            "authors": _json_list(entry.authors),
            "published": published,
            "updated": iso(entry.updated),
            "date_source": source,
            "date_note": entry.date_note,
            "first_seen": stamp,
            "last_changed": stamp,
            "content_html": entry.content_html,
            "summary_html": entry.summary_html,
            "excerpt": entry.excerpt,
            "enclosures": _json_list(entry.enclosures),
            "duration": podcast.duration if podcast else None,
            "episode": podcast.episode if podcast else None,
            "season": podcast.season if podcast else None,
            "chapters": _json_list(podcast.chapters if podcast else ()),
            "chapters_url": podcast.chapters_url if podcast else None,
            "image": podcast.image if podcast else None,
            "explicit": None if podcast is None or podcast.explicit is None else int(podcast.explicit),
            "content_hash": digest,
            "tags": "[]",
            "status": "kept",
            "reason": None,
            "screen_status": None,
            "screen_reason": None,
            "lang": None,
            "score": None,
            "scores": None,
            "model_version": None,
            "screened_at": None,
        }

    _COLUMNS: ClassVar[list[str]] = [
        "id",
        "feed_url",
        "guid",
        "link",
        "title",
        "authors",
        "published",
        "updated",
        "date_source",
        "date_note",
        "first_seen",
        "last_changed",
        "content_html",
        "summary_html",
        "excerpt",
        "enclosures",
        "duration",
        "episode",
        "season",
        "chapters",
        "chapters_url",
        "image",
        "explicit",
        "content_hash",
        "tags",
        "status",
        "reason",
        "screen_status",
        "screen_reason",
        "lang",
        "score",
        "scores",
        "model_version",
        "screened_at",
    ]

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        columns = ", ".join(self._COLUMNS)
        marks = ", ".join("?" for _ in self._COLUMNS)
        # Positional values: sqlite3 binds a named parameter by building its name anew
        # for every row.
        values = map(_ROW_VALUES, rows)
        self.db.conn.executemany(f"INSERT INTO posts ({columns}) VALUES ({marks})", values)
        self._journal_topics(rows, cleared=False)

    def _update(self, rows: list[dict[str, Any]]) -> None:
        # first_seen is never rewritten: a changed post is not a new post.
        keep = {"id", "feed_url", "first_seen"}
        sets = ", ".join(f"{c} = :{c}" for c in self._COLUMNS if c not in keep)
        self.db.conn.executemany(f"UPDATE posts SET {sets} WHERE id = :id", rows)
        self._journal_topics(rows, cleared=True)

    def _journal_topics(self, rows: list[dict[str, Any]], cleared: bool) -> None:
        # "topics": the (topic, score) pairs of the row's tags, set with its verdict.
        entries = [(r["id"], None, None) for r in rows] if cleared else []
        entries += [(r["id"], topic, score) for r in rows for topic, score in r.get("topics", ())]
        if entries:
            self.db.conn.executemany(
                "INSERT INTO topic_journal (post_id, topic, score) VALUES (?, ?, ?)", entries
            )

    def index_topics(self) -> int:
        """Move the topics journaled by record() into post_topics; returns the rows moved.

        Called at the end of every run, before corrections are applied, and safe to
        repeat: it also finishes what a killed run left in the journal.
        """
        with self._tx():
            if self.db.execute("SELECT 1 FROM topic_journal LIMIT 1").fetchone() is None:
                return 0
            cleared = self.db.execute("SELECT 1 FROM topic_journal WHERE topic IS NULL LIMIT 1").fetchone()
            if cleared is None:
                # Only new posts (a first run, say): every entry is a topic, in key order,
                # so each page of post_topics is written once.
                moved = self.db.execute(
                    """INSERT OR REPLACE INTO post_topics (topic, post_id, score)
                    SELECT topic, post_id, score FROM topic_journal ORDER BY topic, post_id"""
                ).rowcount
            else:
                self.db.execute(
                    "DELETE FROM post_topics "
                    "WHERE post_id IN (SELECT post_id FROM topic_journal WHERE topic IS NULL)"
                )
                # A post's entries after its last clearing entry are its topics.
                moved = self.db.execute(
                    """INSERT OR REPLACE INTO post_topics (topic, post_id, score)
                    SELECT topic, post_id, score FROM (
                        SELECT id, post_id, topic, score,
                            max(CASE WHEN topic IS NULL THEN id END) OVER (PARTITION BY post_id) AS cleared
                        FROM topic_journal
                    ) WHERE topic IS NOT NULL AND id > coalesce(cleared, 0) ORDER BY topic, post_id"""
                ).rowcount
            self.db.execute("DELETE FROM topic_journal")
            return int(moved)

    # -- reading ------------------------------------------------------------

    def published_posts(self, first_seen: tuple[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every kept post with its source, newest first: what the site and feeds show;
        first_seen: only the posts first stored, or published later (listed_at), in
        [start, end).

        Only the light columns: content_html is read for the few posts a feed carries
        (post_contents). "topics" holds the published (topic, score) pairs.
        """
        where, params = "p.status = 'kept'", []
        # The whole site is read in the order of an index; a period, through its two range
        # indexes (the "+" keeps SQLite from walking every kept post to skip a sort).
        order = "p.published DESC, p.id" if first_seen is None else "+p.published DESC, p.id"
        if first_seen is not None:
            # Two ranges, each on its own index (status, first_seen) and (status, listed_at).
            where += (
                " AND ((p.first_seen >= ? AND p.first_seen < ?) OR (p.listed_at >= ? AND p.listed_at < ?))"
            )
            params = [*first_seen, *first_seen]
        topics: dict[str, list[tuple[str, float]]] = {}
        # The whole table in one scan for the site; only the posts asked for otherwise.
        query = "SELECT topic, post_id, score FROM post_topics"
        if first_seen is not None:
            query = (
                "SELECT t.topic, t.post_id, t.score FROM post_topics t "
                f"JOIN posts p ON p.id = t.post_id WHERE {where}"
            )
        for topic, post_id, score in self.db.execute(query, params):
            topics.setdefault(post_id, []).append((topic, score))
        rows = self.db.execute(
            f"""SELECT p.id, p.feed_url, p.guid, p.title, p.link, p.authors, p.published, p.updated,
                p.first_seen, p.listed_at,
                p.excerpt, p.enclosures, p.duration, p.episode, p.season, p.chapters,
                p.chapters_url, p.image, p.explicit, p.tags, f.name AS source, f.kind AS kind,
                f.link AS source_link
            FROM posts p JOIN feeds f ON f.url = p.feed_url
            WHERE {where}
            ORDER BY {order}""",
            params,
        )
        names = [d[0] for d in rows.description]
        # One row at a time: a year's posts as dicts all at once took a third of a
        # build's memory, beside the site's own records of them.
        for values in rows:
            row = dict(zip(names, values, strict=True))
            row["topics"] = sorted(topics.get(row["id"], ()), key=lambda t: (-t[1], t[0]))
            yield row

    def health(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]], str | None]:
        """Feeds with their state; per feed, posts by status or dropped reason, those an
        override decided as "override:deny" or "override:allow" (and "lang:XX" for each
        language posts were not kept in); when the last run finished."""
        feeds = list(self.db.query("SELECT * FROM feeds ORDER BY name COLLATE NOCASE, url"))
        counts: dict[str, dict[str, int]] = {}
        for feed_url, status, reason, override, lang, n in self.db.execute(
            "SELECT feed_url, status, reason, override, lang, count(*) FROM posts GROUP BY 1, 2, 3, 4, 5"
        ):
            bucket = counts.setdefault(feed_url, {})
            key = status if status != "dropped" else f"dropped:{reason or 'offtopic'}"
            if override:  # the owner decided, not screening: "deny" or "allow"
                key = f"override:{override}"
            bucket[key] = bucket.get(key, 0) + n
            if status != "kept" and lang:
                bucket[f"lang:{lang}"] = bucket.get(f"lang:{lang}", 0) + n
        row = self.db.execute("SELECT max(finished) FROM runs").fetchone()
        return feeds, counts, row[0] if row else None

    def recent_dropped(self, feed_url: str, limit: int = 20) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT id, title, published, status, reason, override, lang, score FROM posts "
                "WHERE feed_url = ? AND status != 'kept' ORDER BY published DESC, id LIMIT ?",
                [feed_url, limit],
            )
        )

    def digest_posts(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Kept posts first stored in [since, until), with their source and published
        topics, oldest first: what a digest for that time tells about."""
        rows = self.published_posts((stamp_of(since), stamp_of(until)))
        return sorted(rows, key=lambda r: (r["published"], r["id"]))

    def last_digest(self, subscriber: str) -> datetime | None:
        # One mailbox whatever the case of its address: check reads both spellings as one.
        row = self.db.execute(
            "SELECT max(until) FROM digests WHERE subscriber = ? COLLATE NOCASE", [subscriber]
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def digest_sent(self, subscriber: str, period: str) -> bool:
        found = self.db.execute(
            "SELECT 1 FROM digests WHERE subscriber = ? COLLATE NOCASE AND period = ?", [subscriber, period]
        ).fetchone()
        return found is not None

    def record_digest(
        self,
        subscriber: str,
        period: str,
        since: datetime,
        until: datetime,
        posts: int,
        message_id: str,
        now: datetime,
    ) -> None:
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO digests "
                "(subscriber, period, since, until, posts, message_id, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [subscriber, period, stamp_of(since), stamp_of(until), posts, message_id, stamp_of(now)],
            )

    def post_contents(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """(content_html, summary_html) of these posts."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for pid, content, summary in self.db.execute(
                f"SELECT id, content_html, summary_html FROM posts WHERE id IN ({marks})", chunk
            ):
                found[pid] = (content, summary)
        return found

    def posts(self, feed_url: str | None = None) -> Iterator[dict[str, Any]]:
        if feed_url:
            yield from self.db.query(
                "SELECT * FROM posts WHERE feed_url = ? ORDER BY published DESC, id", [feed_url]
            )
        else:
            yield from self.db.query("SELECT * FROM posts ORDER BY published DESC, id")

    def count_posts(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM posts").fetchone()[0])

    def feed_post_counts(self) -> dict[str, int]:
        return {
            row[0]: row[1]
            for row in self.db.execute("SELECT feed_url, count(*) FROM posts GROUP BY feed_url")
        }


_ROW_VALUES = operator.itemgetter(*Store._COLUMNS)  # a post row's values, in column order
