"""The update run: which feeds are due, fetch them concurrently, parse, store.

Fetching is async (one event loop). Parsing, screening and storing a fetched feed are
CPU-bound, so for larger runs they go to a pool of worker processes, one per core: this
process hands them the bodies in small batches, and each worker parses its batch and
stores it in one transaction of its own (each feed all or nothing inside it). Parsed
posts never travel back between processes; only each feed's outcome does. Feeds that
gave no body (304, errors) are recorded here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import select
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import cards
from .baseline import FeedRecord
from .config import policy_for
from .errors import AggregatorError, ModelError, ParseError
from .feedstatus import GONE_TEXT, fresh_source, waiting
from .fetch import Fetcher
from .langtags import primary_language
from .lock import RunLock, alive
from .settle import decisions_digest, load_decisions, settle
from .store import Store
from .types import (
    Config,
    FeedConfig,
    FeedOutcome,
    FetchResult,
    Outcome,
    ParsedEntry,
    ParsedFeed,
    RunSummary,
    StoredVerdict,
)

if TYPE_CHECKING:
    from .screen.verdict import Screener
    from .topics.taxonomy import Words

Clock = Callable[[], datetime]
Progress = Callable[[FeedOutcome], None]

# Below this many feeds to fetch, starting worker processes costs more than it saves.
POOL_MIN_FEEDS = 16
# Finished feeds are committed together at least this often, or when this many wait.
COMMIT_SECONDS = 0.5
COMMIT_FEEDS = 50
# Fetched bodies go to a worker in batches of this many (or whatever waits after
# COMMIT_SECONDS): one transaction per batch.
BATCH_FEEDS = 12
# A worker's page cache: it writes only its own batches, and every worker has one.
WORKER_CACHE_KB = 8000
CHECKPOINT_SECONDS = 1.0  # how often the run copies the workers' WAL into the database
GC_THRESHOLD = 20_000  # allocations between collections of the youngest generation


def utcnow() -> datetime:
    return datetime.now(UTC)


# The screener that parse_job uses in this process, by allowed languages. A run with a
# pool of parser workers loads it before forking them, and they share it; a run without
# one loads it when it first parses. Until then the process imports no NumPy,
# feedparser or nh3 (a run whose feeds all answer 304 on one core never does).
_screeners: dict[tuple[str, ...], Screener] = {}
_languages: list[tuple[str, ...]] = [("en",)]  # the run's allowed languages
# The lexicon and vocabulary, when this process loaded them before forking the workers:
# they share them.
_words: list[Words] = []


def _screener() -> Screener:
    languages = _languages[0]
    screener = _screeners.get(languages)
    if screener is None:
        from .screen.verdict import Screener

        screener = _screeners[languages] = Screener.load(languages, words=_words[0] if _words else None)
    return screener


Parsed = tuple[ParsedFeed, dict[str, StoredVerdict]]


def parse_job(
    url: str,
    body: bytes,
    headers: dict[str, str],
    now: datetime,
    known: frozenset[str] = frozenset(),
    hint: str | None = None,
    history: FeedRecord | None = None,
    fetched_from: str | None = None,
) -> Parsed | str:
    """Runs in a worker: the parsed feed and verdicts for its new or changed entries, or
    the reason the body is not a usable feed. Entries already stored unchanged are not
    screened again: language detection runs once per post content. history: the feed's
    record so far (screened and kept posts), which weighs in with the rest of the batch
    for a post that only just fails (Screener.feed_record). fetched_from: where the body
    came from after redirects (relative links are relative to it), when not url."""
    from .parse import read_feed

    screener = _screener()  # a missing or damaged model is the run's error, not the feed's
    try:
        parsed, leads = read_feed(url, body, headers, now, fetched_from=fetched_from)
        fresh = [
            (e, lead) for e, lead in zip(parsed.entries, leads, strict=True) if e.content_hash not in known
        ]
        verdicts: dict[str, StoredVerdict] = {}
        if fresh:
            hint = hint or primary_language(parsed.language)
            media = [carries_media(e) for e, _ in fresh]  # episodes: their subject is in the audio
            found = screener.screen([(e.title, lead, hint) for e, lead in fresh], media)
            found = screener.feed_record(found, history)
            verdicts = {e.content_hash: v.stored() for (e, _), v in zip(fresh, found, strict=True)}
        return parsed, verdicts
    except ParseError as exc:
        return exc.message
    except Exception as exc:  # a parser bug must cost one feed, not the run
        return f"could not parse: {type(exc).__name__}: {exc}"


def carries_media(entry: ParsedEntry) -> bool:
    """Whether an entry carries audio or video (a podcast episode), not only an image or a
    document; an enclosure of no stated type counts (most are a show's audio)."""
    return any(not e.type or e.type.startswith(("audio/", "video/")) for e in entry.enclosures)


@dataclass(frozen=True)
class StoreJob:
    """A fetched body for a worker: parse it, screen what is new, store the feed."""

    result: FetchResult  # with the body
    now: datetime  # the run's clock when the body arrived: what record() stores
    hint: str | None  # the feed's declared or usual language


_worker_stores: dict[tuple[int, int], Store] = {}
# The parser workers' write lock: made before they are forked, so they share it.
_write_turn: list[Any] = []


def _worker_store(database: str) -> Store:
    """This worker's own connection to the run's database, opened on its first batch."""
    key = (os.getpid(), threading.get_ident())
    store = _worker_stores.get(key)
    if store is None:
        store = _worker_stores[key] = Store(database)
        store.db.execute(f"PRAGMA cache_size = -{WORKER_CACHE_KB}")
        if _write_turn:
            # A parser worker never checkpoints (that waits for the disk while its core
            # could parse): the run's own process does, in the background (Checkpointer).
            store.db.execute("PRAGMA wal_autocheckpoint = 0")
    return store


class Checkpointer:
    """Copies the WAL into the database file now and then, in a thread of the run's
    process with its own connection, while the parser workers write: they then never
    wait for the disk themselves. A passive checkpoint never blocks a writer."""

    def __init__(self, database: str, every: float = CHECKPOINT_SECONDS) -> None:
        self.database, self.every = database, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)

    def __enter__(self) -> Checkpointer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.every):
                with contextlib.suppress(sqlite3.Error):  # busy, say: the next one catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()


def close_worker_store() -> None:
    """Close this thread's worker connection, if it has one (the thread pool's)."""
    store = _worker_stores.pop((os.getpid(), threading.get_ident()), None)
    if store is not None:
        store.close()


def store_batch(
    database: str,
    run_id: int,
    threshold: float,
    jobs: Sequence[StoreJob],
    store: Store | None = None,
    max_fresh_wait: float = 0.0,
) -> list[FeedOutcome]:
    """Runs in a worker: parse and screen each body, then store every feed of the batch
    in one transaction, each feed all or nothing (record() uses a savepoint). Parsing
    comes first, so the database is locked only while writing. store: the run's own,
    when the run's process stores the batch itself."""
    worker = store is None
    store = store or _worker_store(database)
    done = []
    for job in jobs:
        fetched = job.result
        assert fetched.body is not None
        known = store.content_hashes(fetched.url)  # stored unchanged: not screened again
        got = parse_job(
            fetched.url,
            fetched.body,
            dict(fetched.headers),
            job.now,
            known,
            job.hint,
            store.baseline(fetched.url).record,
            fetched.final_url,
        )
        parsed: ParsedFeed | None = None
        verdicts: dict[str, StoredVerdict] = {}
        error = None
        if isinstance(got, str):
            error = got
        else:
            parsed, verdicts = got
        done.append((replace(fetched, body=None), parsed, job.now, error, verdicts))
    # Parser workers take turns through a lock of their own: a worker waiting for it
    # wakes the moment the other is done, where SQLite's busy handler would poll and
    # sleep. The run's own process (a batch it stores itself) does not take it.
    turn = _write_turn[0] if worker and _write_turn else contextlib.nullcontext()
    outcomes = []
    with turn, store.batch():
        for fetched, parsed, now, error, verdicts in done:
            try:
                outcomes.append(
                    store.record(run_id, fetched, parsed, now, error, verdicts, threshold, max_fresh_wait)
                )
            except Exception as exc:  # the feed's savepoint is rolled back: the rest go on
                if database_broken(exc):
                    raise  # no feed can be stored: the run's error (exit 3), not this feed's
                why = f"could not store: {type(exc).__name__}: {exc}"
                failed = replace(fetched, outcome=Outcome.ERROR)
                outcomes.append(store.record(run_id, failed, None, now, why, {}, threshold))
    return outcomes


_BROKEN = ("malformed", "not a database", "disk is full", "disk i/o error", "readonly database")


def database_broken(exc: BaseException) -> bool:
    """Whether an error says the database itself cannot be written (damaged, full,
    unreadable): then no feed can be stored, and the run must say so, not blame feeds."""
    return isinstance(exc, sqlite3.DatabaseError) and any(s in str(exc).lower() for s in _BROKEN)


def _start_worker(pid: int) -> None:
    """Worker initializer: exit with the run, then load the models (see _exit_with)."""
    _exit_with(pid)
    with contextlib.suppress(ModelError):  # parse_job raises it again, for the run to report
        _screener()
    # The models live as long as the worker: kept out of the collections that the run's
    # millions of short-lived objects trigger.
    gc.freeze()


def _exit_with(pid: int) -> None:
    """Exit as soon as the run that started this worker is gone.

    A pool worker blocks on its task queue forever if the run is killed with SIGKILL;
    cron would pile them up run after run.
    """
    # Workers yield the CPU to the run's own process, which feeds them bodies: a
    # starved feeder leaves both cores idle.
    with contextlib.suppress(OSError):
        os.nice(5)
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        handle: int | None = os.pidfd_open(pid)
    except OSError:
        handle = None
        if not alive(pid):
            os._exit(0)

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the process has exited
        else:
            while alive(pid):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-run", daemon=True).start()


def _noop() -> None:
    pass


def start_parsers(workers: int, feeds: int, screener: Screener | None = None) -> Executor:
    """The parser pool for a run: worker processes when the run is big enough.

    Call it before the event loop starts: the workers are forked at once, while this
    process has no other thread (a fork copies locks other threads may hold). They share
    the models this process loads first (or the screener given).
    """
    if screener is not None:
        _languages[0] = screener.languages
        _screeners[screener.languages] = screener
    if workers > 1 and feeds >= POOL_MIN_FEEDS:
        if screener is None and not _words:
            # The models (the lexicon's 20,000 entries, both weight matrices, NumPy) and
            # the parser's modules are loaded once, here, and shared with the workers:
            # loaded in each worker they cost 8-10 MB more at a first run's peak, for
            # 0.25 s saved before the first fetch. NumPy's BLAS would start a thread of its
            # own, and a fork should copy no thread: nothing here multiplies matrices.
            os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
            from . import parse  # noqa: F401  (feedparser, nh3)
            from .topics.taxonomy import load_words

            with contextlib.suppress(ModelError):  # parse_job raises it again, for the run to report
                _words.append(load_words())
                _screener()
        # What exists now (modules, models) is never garbage: kept out of collections,
        # its pages stay shared with the workers instead of being copied into each.
        gc.freeze()
        context = multiprocessing.get_context("fork")
        _write_turn[:] = [context.Lock()]
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        pool.submit(_noop)  # a fork pool forks every worker on its first task
        return pool
    return ThreadPoolExecutor(max_workers=1)


def due_feeds(
    config: Config, store: Store, now: datetime, force: bool, only: Sequence[str] = ()
) -> tuple[list[FeedConfig], list[tuple[FeedConfig, str]]]:
    """Split configured feeds into those to fetch now and those skipped, with the reason."""
    known = {f.url for f in config.feeds} | {f.name for f in config.feeds}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise AggregatorError(
            f"--feed {unknown[0]!r} is neither the name nor the URL of a feed in {config.path}; "
            "`aggregator status` lists them"
        )
    states = store.feed_states()
    due, skipped = [], []
    for feed in config.feeds:
        if only and feed.url not in only and feed.name not in only:
            continue
        state = states.get(feed.url)
        if state is None or force:
            due.append(feed)
        elif state.gone:
            skipped.append((feed, f"{GONE_TEXT}; remove it from the configuration, or use --force"))
        elif waiting(state.next_fetch, now) and not state.consecutive_errors:
            skipped.append(
                (
                    feed,
                    f"fresh until {state.next_fetch:%Y-%m-%d %H:%M} UTC by {fresh_source(state.fresh_by)} "
                    "(fetch.max_fresh_wait bounds it; --force fetches it now)",
                )
            )
        elif waiting(state.next_fetch, now):
            skipped.append(
                (
                    feed,
                    f"waiting until {state.next_fetch:%Y-%m-%d %H:%M} UTC after "
                    f"{state.consecutive_errors} error(s) or a Retry-After",
                )
            )
        else:
            due.append(feed)
    return due, skipped


def update(
    config: Config,
    store: Store,
    *,
    clock: Clock = utcnow,
    force: bool = False,
    only: Sequence[str] = (),
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    fetcher: Fetcher | None = None,
    screener: Screener | None = None,
) -> RunSummary:
    """Fetch every due feed and store what changed. Feed failures are outcomes, not errors."""
    _languages[0] = config.languages
    # The cards say all this process needs of the models (and that they are there).
    threshold = screener.threshold if screener else cards.screen_threshold()
    topics = screener.topics.topics if screener and screener.topics else cards.topic_names()
    decisions = decisions_digest(config)  # read before the files, so an edit made meanwhile counts
    overrides, corrections = load_decisions(config, topics)
    now = clock()
    store.sync_feeds(config.feeds, now)
    store.bound_fresh_waits(config.fetch.max_fresh_wait)
    due, skipped = due_feeds(config, store, now, force, only)
    run_id = store.start_run(now, os.getpid())
    outcomes: list[FeedOutcome] = [store.record_skip(run_id, f.url, why, now) for f, why in skipped]
    if on_start:
        on_start(len(due))
    workers = config.fetch.parse_workers or os.cpu_count() or 1
    executor = start_parsers(workers, len(due), screener) if due else None
    # A run makes millions of short-lived objects (parsed entries, rows) and few cycles:
    # collect the youngest generation less often than Python's default of every 700.
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    workers_write = isinstance(executor, ProcessPoolExecutor)  # their WAL is ours to copy
    checkpoints = Checkpointer(store.path) if workers_write else contextlib.nullcontext()
    try:
        with checkpoints:
            outcomes += asyncio.run(
                _fetch_all(
                    config, store, run_id, due, clock, progress, fetcher, executor, workers, force, threshold
                )
            )
    finally:
        gc.set_threshold(*thresholds)
        if executor is not None:
            if isinstance(executor, ThreadPoolExecutor):  # its thread's connection
                with contextlib.suppress(Exception):
                    executor.submit(close_worker_store).result()
            executor.shutdown(wait=True, cancel_futures=True)
            _write_turn.clear()
    settle(store, overrides, corrections, clock(), decisions)
    store.finish_run(run_id, clock(), outcomes)
    order = {f.url: i for i, f in enumerate(config.feeds)}
    outcomes.sort(key=lambda o: order.get(o.url, len(order)))
    return RunSummary(run_id=run_id, outcomes=tuple(outcomes))


async def _fetch_all(
    config: Config,
    store: Store,
    run_id: int,
    feeds: list[FeedConfig],
    clock: Clock,
    progress: Progress | None,
    fetcher: Fetcher | None,
    executor: Executor | None,
    workers: int,
    force: bool = False,
    threshold: float = 0.5,
) -> list[FeedOutcome]:
    if not feeds:
        return []
    states = store.feed_states()
    limit = asyncio.Semaphore(config.fetch.concurrency)
    # A feed waits for its host's turn (fetch.per_host) before it takes one of the run's
    # slots: feeds queued behind a slow host must not hold every slot while other hosts'
    # feeds wait. (The fetcher limits each host again, for redirects to other hosts.)
    host_turns: defaultdict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(config.fetch.per_host)
    )
    # Bodies waiting for a worker or being stored. A feed keeps its fetch slot until it
    # gets one, so when parsing is the bottleneck fetching slows down instead of piling
    # up bodies.
    backlog = asyncio.Semaphore(workers * 16)
    assert executor is not None
    loop = asyncio.get_running_loop()
    outcomes: list[FeedOutcome] = []
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(config.fetch, clock=clock)

    broken = False

    fresh = config.fetch.max_fresh_wait
    declared = {f.url: primary_language(f.language) for f in config.feeds}
    # Read once for the whole run: one query instead of one per feed.
    usual_languages = store.usual_languages()

    def finished(stored: list[FeedOutcome]) -> None:
        outcomes.extend(stored)
        if progress:
            for outcome in stored:
                progress(outcome)

    # Fetched bodies wait here until a batch goes to a worker.
    queued: list[StoreJob] = []
    batches: set[asyncio.Task[None]] = set()
    # An error no feed can get past (the models, the database): raised once the tasks are
    # done. A batch's task is forgotten when it ends, so it cannot raise it itself.
    fatal: list[Exception] = []

    async def store_jobs(jobs: list[StoreJob]) -> None:
        nonlocal broken
        try:
            stored = None
            if not broken:
                try:
                    stored = await loop.run_in_executor(
                        executor, store_batch, store.path, run_id, threshold, jobs, None, fresh
                    )
                except BrokenProcessPool:
                    broken = True  # a worker died (killed for memory?): finish in this process
            if stored is None:
                stored = store_batch(store.path, run_id, threshold, jobs, store, fresh)
        except Exception as exc:  # never let one batch end the run: its feeds failed
            stored = []
            if isinstance(exc, ModelError) or database_broken(exc):
                # No feed can be screened or stored: the run's error (the models, or exit
                # 3), reported when the tasks are done; nothing more is fetched.
                fatal.append(exc)
                return
            why = f"internal error: {type(exc).__name__}: {exc}"
            pending.extend(
                (FetchResult(url=job.result.url, status=None, outcome=Outcome.ERROR), None, clock(), why, {})
                for job in jobs
            )
            stored = []
        finally:
            for _ in jobs:
                backlog.release()
            running[0] -= 1
        finished(stored)
        if queued and running[0] < workers:
            dispatch()  # this worker is free: give it what waits

    running = [0]  # batches with a worker

    def dispatch() -> None:
        if fatal:  # nothing can be stored: drop what waits (fetched again next run)
            for _ in queued:
                backlog.release()
            queued.clear()
        if queued:
            jobs = queued[:BATCH_FEEDS]
            del queued[:BATCH_FEEDS]
            running[0] += 1
            task = asyncio.create_task(store_jobs(jobs))
            batches.add(task)
            task.add_done_callback(batches.discard)

    async def one(feed: FeedConfig) -> None:
        state = states.get(feed.url)
        error: str | None = None
        try:
            async with host_turns[(urlsplit(feed.url).hostname or "").lower()], limit:
                if fatal:
                    return  # the run is ending: the feed stays due for the next one
                result = await fetcher.fetch(
                    feed.url,
                    etag=state.etag if state else None,
                    last_modified=state.last_modified if state else None,
                    policy=policy_for(config, feed),
                )
                if (
                    result.outcome is Outcome.OK
                    and not force
                    and state is not None
                    and state.body_hash is not None
                    and result.body_hash == state.body_hash
                ):
                    # A server without validators sent the same bytes again: nothing to parse.
                    result = replace(result, outcome=Outcome.NOT_MODIFIED, body=None)
                if result.outcome is Outcome.OK and result.body is not None:
                    await backlog.acquire()
                    hint = declared.get(result.url) or usual_languages.get(result.url)
                    queued.append(StoreJob(result, clock(), hint))
                    # A full batch goes at once; so does any body while a worker is idle
                    # (the first ones of a run, the last ones).
                    if len(queued) >= BATCH_FEEDS or running[0] < workers:
                        dispatch()
                    return
        except Exception as exc:  # never let one feed end the run
            result = FetchResult(url=feed.url, status=None, outcome=Outcome.ERROR)
            error = f"internal error: {type(exc).__name__}: {exc}"
        pending.append((result, None, clock(), error, {}))
        if len(pending) >= COMMIT_FEEDS:
            commit()

    # Feeds without a body to store (304s, failures) are recorded here, together, a
    # commit every COMMIT_SECONDS (or COMMIT_FEEDS feeds). A run killed before a commit
    # leaves those feeds' state unchanged, so the next run fetches them again: nothing
    # is lost or stored twice. The workers' batches work the same way.
    pending: list[tuple[FetchResult, ParsedFeed | None, datetime, str | None, dict[str, StoredVerdict]]] = []

    def commit() -> None:
        if not pending:
            return
        batch = pending[:]
        pending.clear()
        with store.batch():
            stored = [
                store.record(run_id, *item, threshold=threshold, max_fresh_wait=fresh) for item in batch
            ]
        finished(stored)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(COMMIT_SECONDS)
            while queued and running[0] < workers:
                dispatch()
            commit()

    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(one(feed) for feed in feeds))
        while queued:
            dispatch()
        if batches:
            # Every body is with a worker now. While they parse the last batches, move
            # the topics journaled so far into post_topics: the run's end then only
            # moves what those batches add, instead of all of it with both cores idle.
            store.index_topics()
        while batches:
            await asyncio.gather(*batches)
        if fatal:
            if not any(map(database_broken, fatal)):
                commit()  # the database is sound: what finished is recorded (a 429's wait)
            raise fatal[0]
        commit()
    finally:
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
        if own_fetcher:
            await fetcher.aclose()
    return outcomes


def run_update(config: Config, **kwargs: object) -> RunSummary:
    """Lock the database, open it, update. Raises LockHeld when another run is active."""
    with RunLock(config.database), Store(config.database) as store:
        return update(config, store, **kwargs)  # type: ignore[arg-type]
