"""The `aggregator` command. Thin: it parses arguments and calls library functions."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import DEFAULT_CONFIG, load_config, unknown_topics
from .errors import AggregatorError, ConfigError, DatabaseError, LockHeld
from .feedstatus import GONE_TEXT, FeedStatus, State, feed_status, fresh_source
from .lock import alive, holder
from .oneline import one_line
from .overrides import override_words
from .pipeline import run_update
from .store import Store, iso, parse_iso
from .types import Config, FeedOutcome, Outcome, RunSummary


class Context:
    def __init__(self, config_path: str, db: str | None) -> None:
        self.config_path = config_path
        self.db = db

    def config(self) -> Config:
        return load_config(self.config_path, database=self.db)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the errors a user can fix into a message and a non-zero exit status."""
    try:
        yield
    except LockHeld as exc:
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(0)
    except ConfigError as exc:
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(2)
    except DatabaseError as exc:
        click.echo(f"aggregator: database error: {exc}", err=True)
        sys.exit(3)
    except sqlite3.DatabaseError as exc:  # damage found past the pages read when it opened
        from .dbfile import advice

        click.echo(f"aggregator: database error: {_database_named()}: {exc}; {advice(exc)}", err=True)
        sys.exit(3)
    except AggregatorError as exc:
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(1)


def _database_named() -> str:
    """The database the command was working on, for an error message."""
    context = click.get_current_context(silent=True)
    obj = context.find_object(Context) if context is not None else None
    if obj is None:
        return "the database"
    try:
        return obj.config().database
    except AggregatorError:
        return obj.db or "the database"


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="The manual is in docs/ beside the README: docs/commands.md for every command, "
    "docs/configuration.md for every feeds.yaml key.",
)
@click.version_option(__version__, prog_name="aggregator")
@click.option(
    "--config",
    "config_path",
    envvar="AGGREGATOR_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The feeds.yaml to use (or set AGGREGATOR_CONFIG).",
)
@click.option(
    "--db",
    envvar="AGGREGATOR_DB",
    default=None,
    help="SQLite database (or set AGGREGATOR_DB); default: 'database:' in the config, "
    "else aggregator.db beside it.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str, db: str | None) -> None:
    """Network-engineering blog and podcast aggregator.

    Reads the feeds listed in feeds.yaml, stores posts in SQLite, screens and tags
    them, and publishes a static site with topic feeds and email digests.
    """
    ctx.obj = Context(config_path, db)


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate feeds.yaml and print a summary."""
    from .topics.taxonomy import load_taxonomy

    with _errors():
        config = obj.config()
        # Topic names are part of feeds.yaml: an unknown one means the file is not OK.
        problems = unknown_topics(config, {t.name for t in load_taxonomy()})
        if problems:
            raise ConfigError(config.path, problems)
    blogs = sum(1 for f in config.feeds if f.kind.value == "blog")
    allow = config.fetch.allow_private_addresses
    click.echo(f"{config.path}: OK")
    click.echo(f"  site:      {config.site.title} <{config.site.url}>")
    podcasts = len(config.feeds) - blogs
    click.echo(
        f"  feeds:     {len(config.feeds)} ({blogs} blog{'s' * (blogs != 1)}, "
        f"{podcasts} podcast{'s' * (podcasts != 1)})"
    )
    click.echo(f"  languages: {', '.join(config.languages)}")
    click.echo(f"  database:  {config.database}")
    click.echo(
        f"  fetch:     {config.fetch.concurrency} at once, {config.fetch.per_host} per host, "
        f"timeout {config.fetch.timeout:g} s, deadline {config.fetch.deadline:g} s, "
        f"max {config.fetch.max_bytes:,} bytes, "
        + (
            f"a fresh feed waits up to {config.fetch.max_fresh_wait:g} s"
            if config.fetch.max_fresh_wait
            else "fetched every run (max_fresh_wait 0)"
        )
    )
    from .overrides import load_overrides
    from .settle import overrides_path

    with _errors():
        overrides = load_overrides(overrides_path(config))
    click.echo(f"  overrides: {len(overrides.allow)} allow, {len(overrides.deny)} deny ({overrides.path})")
    for warning in overrides.warnings(f.url for f in config.feeds):
        click.echo(f"  warning: {overrides.path}: {warning}")
    from .settle import corrections_path
    from .topics.corrections import load_corrections

    with _errors():
        corrections = load_corrections(corrections_path(config), tuple(t.name for t in load_taxonomy()))
    click.echo(f"  corrections: {len(corrections.items)} ({corrections.path})")
    click.echo(f"  site output: {config.site.output}")
    if config.digest is not None:
        digest = config.digest
        daily = sum(1 for s in digest.subscribers if s.frequency.value == "daily")
        click.echo(
            f"  digest:    {len(digest.subscribers)} subscriber{'s' * (len(digest.subscribers) != 1)} "
            f"({daily} daily, "
            f"{len(digest.subscribers) - daily} weekly) via {digest.smtp.host}:{digest.smtp.port} "
            f"({digest.smtp.security})"
        )
    if allow:
        what = "all private addresses" if allow is True else ", ".join(allow or ())
        click.echo(f"  private addresses allowed: {what}")
    for feed in config.feeds:
        if feed.allow_private_addresses:
            click.echo(f"  private addresses allowed for {feed.name} (line {feed.line})")
    _check_templates(config)


def _check_templates(config: Config) -> None:
    """Compile the site owner's templates (site/templates/): a syntax error or a missing
    included template is found now, not by the next build."""
    from .publish.site import environment, site_folder
    from .publish.templates import check_templates

    folder = site_folder(config)
    if folder is None or not (folder / "templates").is_dir():
        return
    count, problems = check_templates(environment(folder), folder / "templates")
    if problems:
        click.echo(f"aggregator: {len(problems)} problem(s) in the site's templates:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(f"  templates: {count} of your own in {folder / 'templates'}, all compile")


OVERRIDES_FILE = "overrides.yaml"
CORRECTIONS_FILE = "corrections.yaml"


def _tty() -> bool:
    return sys.stdout.isatty()


def _print_summary(summary: RunSummary, config: Config, skipped: bool = False) -> None:
    """The run's line, after the feeds that failed; skipped: also the feeds not fetched,
    with why (asked for by -v, or by naming the feeds with --feed)."""
    names = {f.url: f.name for f in config.feeds}
    for outcome in summary.outcomes:
        # A parse error may quote the body: its control characters are not the terminal's.
        if outcome.outcome in (Outcome.ERROR, Outcome.GONE):
            click.echo(f"  failed: {names.get(outcome.url, outcome.url)}: {one_line(outcome.error or '')}")
        elif skipped and outcome.outcome is Outcome.SKIPPED:
            click.echo(f"  skipped: {names.get(outcome.url, outcome.url)}: {one_line(outcome.error or '')}")
    click.echo(summary.line())


def _known_topics(config: Config) -> Config:
    """config, once every topic name its subscribers ask for is one the taxonomy has: a
    typo is an invalid configuration (exit 2), as `check` says. (The update goes on with
    a feed's unknown topic hint, which only the site shows: the build refuses it.)"""
    from . import cards

    problems = unknown_topics(config, set(cards.topic_names()), subscribers=True)
    if problems:
        raise ConfigError(config.path, problems)
    return config


def _do_update(obj: Context, quiet: bool, verbose: bool, force: bool, feeds: tuple[str, ...]) -> None:
    with _errors():
        config = obj.config()
        show = not quiet and (verbose or _tty())
        bar: Any = None

        def on_start(total: int) -> None:
            nonlocal bar
            if show and sys.stderr.isatty() and total:
                bar = click.progressbar(length=total, label="Fetching feeds", file=sys.stderr)
                bar.__enter__()

        def progress(_outcome: FeedOutcome) -> None:
            if bar is not None:
                bar.update(1)

        try:
            summary = run_update(config, force=force, only=feeds, progress=progress, on_start=on_start)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if show:
        _print_summary(summary, config, skipped=verbose or bool(feeds))


_update_options = [
    click.option("-q", "--quiet", is_flag=True, help="Print nothing unless the run cannot go on."),
    click.option(
        "-v", "--verbose", is_flag=True, help="Print the summary even without a terminal, with skipped feeds."
    ),
    click.option(
        "--force",
        is_flag=True,
        help="Fetch every feed now, ignoring backoff, Retry-After, freshness (Cache-Control, ttl), 410s.",
    ),
    click.option("--feed", "feeds", multiple=True, help="Only this feed (URL or name); repeatable."),
]


def _with_update_options(func: Any) -> Any:
    for option in reversed(_update_options):
        func = option(func)
    return func


@cli.command()
@_with_update_options
@click.pass_obj
def update(obj: Context, quiet: bool, verbose: bool, force: bool, feeds: tuple[str, ...]) -> None:
    """Fetch the feeds that are due and store new and changed posts.

    Shows a progress bar on a terminal and is silent under cron (no terminal, or -q).
    Exits 0 when only some feeds failed; their errors are in `aggregator status`.
    """
    _do_update(obj, quiet, verbose, force, feeds)


_allow_shrink = click.option(
    "--allow-shrink",
    is_flag=True,
    help="Replace the live site even with one that has lost more than half of its posts.",
)


@cli.command()
@_with_update_options
@_allow_shrink
@click.pass_obj
def run(
    obj: Context, quiet: bool, verbose: bool, force: bool, feeds: tuple[str, ...], allow_shrink: bool
) -> None:
    """The cron entry point: update the feeds that are due, then build the site, then
    send the digests that are due.

    A build that would lose more than half of the site's posts (unless --allow-shrink),
    or that meets a broken template, stops the run (exit 1) before the digests.
    """
    _do_update(obj, quiet, verbose, force, feeds)
    _do_build(obj, None, quiet, verbose, allow_shrink)
    with _errors():  # feeds.yaml is read again: it may have been edited during the run
        has_digest = obj.config().digest is not None
    if has_digest:
        _do_digest(obj, None, quiet, verbose)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Write the due digests as .eml files instead of sending them.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("digests-out"),
    show_default=True,
    help="Folder for --dry-run's .eml files.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless something failed.")
@click.option("-v", "--verbose", is_flag=True, help="Print what was sent even without a terminal.")
@click.pass_obj
def digest(obj: Context, dry_run: bool, out: Path, quiet: bool, verbose: bool) -> None:
    """Send every subscriber's email digest that is due (cron may call this hourly).

    A digest is sent once per subscriber and period; with --dry-run nothing is sent or
    recorded.
    """
    _do_digest(obj, out if dry_run else None, quiet, verbose)


def _do_digest(obj: Context, dry_run_to: Path | None, quiet: bool, verbose: bool) -> None:
    from .publish.digest import digest_from_config

    with _errors():
        config = _known_topics(_existing_database(obj))
        report = digest_from_config(config, datetime.now(UTC), dry_run_to)
    for email, why in report.failed:
        click.echo(f"digest for {email} not sent: {why}", err=True)
    if not quiet and (verbose or _tty()):
        if dry_run_to is not None:
            click.echo(f"wrote {len(report.written)} digest(s) to {dry_run_to}")
        else:
            sent, empty, failed = len(report.sent), len(report.empty), len(report.failed)
            click.echo(f"digests: {sent} sent, {empty} with nothing new, {failed} failed")
    if report.failed:
        # Each is tried again on the next run; cron mails the owner until it goes.
        raise SystemExit(1)


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to build into (default: site.output in the configuration, else public "
    "beside the configuration file).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless the build cannot go on.")
@click.option("-v", "--verbose", is_flag=True, help="Print the summary even without a terminal.")
@_allow_shrink
@click.pass_obj
def build(obj: Context, out: Path | None, quiet: bool, verbose: bool, allow_shrink: bool) -> None:
    """Render the site and its feeds from the database (no network).

    The site is written beside OUT and swapped in whole; unchanged files keep their
    bytes and modification times. A new site with less than half of the live site's
    posts is refused (exit 1, the live site untouched) unless --allow-shrink.
    """
    _do_build(obj, out, quiet, verbose, allow_shrink)


def _do_build(obj: Context, out: Path | None, quiet: bool, verbose: bool, allow_shrink: bool = False) -> None:
    from .publish.site import build_from_config

    with _errors():
        config = _existing_database(obj)
        report = build_from_config(config, out, allow_shrink=allow_shrink)
    if not quiet:
        for note in report.notes:
            click.echo(note, err=True)
    if not quiet and (verbose or _tty()):
        click.echo(
            f"built {report.out}: {report.posts} posts, {report.pages} pages; "
            f"{len(report.written)} files written, {report.unchanged} unchanged"
        )


def _ago(value: str | None, now: datetime) -> str:
    when = parse_iso(value)
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds:.0f}s"
    elif seconds < 5400:
        text = f"{seconds / 60:.0f}m"
    elif seconds < 172800:
        text = f"{seconds / 3600:.0f}h"
    else:
        text = f"{seconds / 86400:.0f}d"
    return f"in {text}" if future else f"{text} ago"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed instead of a table.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Per-feed health: last status, last success, errors, next fetch, suggestions."""
    with _errors():
        config = _existing_database(obj)
        with Store(config.database) as store:
            rows = store.feeds(f.url for f in config.feeds)
            counts = store.feed_post_counts()
            last = store.last_run()
    now = datetime.now(UTC)
    known = {r["url"] for r in rows}
    missing = [f for f in config.feeds if f.url not in known]
    if as_json:
        for row in rows:
            click.echo(json.dumps(_status_json(row, counts.get(row["url"], 0), now), sort_keys=True))
        for feed in missing:
            new = {"url": feed.url, "name": feed.name, "kind": feed.kind.value, "last_fetch": None}
            click.echo(json.dumps(_status_json(new, 0, now), sort_keys=True))
        return
    header = (
        f"{'FEED':<28} {'STATUS':>6} {'LAST SUCCESS':>13} {'ERR':>3} {'NEXT FETCH':>11} {'POSTS':>5}  NOTE"
    )
    click.echo(header)
    for row in rows:
        feed_state = feed_status(row, now)
        if not feed_state.fetched:
            nxt = "-"  # the note says why
        elif feed_state.next_fetch is not None:
            nxt = _ago(iso(feed_state.next_fetch), now)
        else:
            nxt = "next run"
        click.echo(
            f"{row['name'][:28]:<28} {row['last_status'] or '-':>6} "
            f"{_ago(row['last_success'], now):>13} {row['consecutive_errors']:>3} "
            f"{nxt:>11} {counts.get(row['url'], 0):>5}  {_status_note(row, feed_state, cut=NOTE_CHARS)}"
        )
    for feed in missing:
        click.echo(
            f"{feed.name[:28]:<28} {'-':>6} {'never':>13} {0:>3} {'next run':>11} {0:>5}  not fetched yet"
        )
    if last:
        if last["finished"]:
            state = "finished"
        elif _running(config.database, last["pid"]):
            state = f"is running now (pid {last['pid']})"
        else:
            state = "did not finish (interrupted?)"
        click.echo(
            f"\nLast run {last['started']} {state}: {last['ok']} ok, {last['not_modified']} not "
            f"modified, {last['failed']} failed, {last['skipped']} skipped; "
            f"{last['new_posts']} new posts, {last['updated_posts']} updated"
        )


def _status_json(row: dict[str, Any], posts: int, now: datetime) -> dict[str, Any]:
    """A feed's row for `status --json`: next_fetch is null when the next run fetches
    the feed, or when no run does (state "gone")."""
    feed_state = feed_status(row, now)
    return {
        **row,
        "posts": posts,
        "state": feed_state.state.value,
        "state_text": feed_state.label,
        "next_fetch": iso(feed_state.next_fetch),
    }


# The longest a feed's error, quarantine reason or warning is in `aggregator status`'s
# table (--json has them whole); a suggested URL is never cut, as it is copied.
NOTE_CHARS = 100


def _running(database: str, pid: int | None) -> bool:
    """Whether the run of pid still works on the database: the lock file names it (a
    killed run's pid stays there too) and it is alive."""
    if not pid:
        return False
    return holder(database) == str(pid) and alive(pid)


def _status_note(row: dict[str, Any], feed_state: FeedStatus, cut: int | None = None) -> str:
    """What the owner should know about a feed, most pressing first. cut: the most
    characters of a message from the server or the parser (errors, warnings)."""

    def short(text: str) -> str:
        return text if cut is None or len(text) <= cut else text[: cut - 1] + "…"

    notes = []
    if feed_state.state is State.GONE:
        notes.append(
            f"{GONE_TEXT}; remove it from the configuration, or `aggregator update --force` fetches it"
        )
    elif row["consecutive_errors"]:
        notes.append(f"failing: {short(row['last_error'] or '')}")
    if row["quarantined"]:
        notes.append(
            f"QUARANTINED, new posts held until `aggregator release`: {short(row['quarantine_reason'] or '')}"
        )
    if row["redirect_url"]:
        notes.append(f"moved permanently: change url to {row['redirect_url']}")
    if feed_state.state is State.NEW:
        notes.append(feed_state.label)
    elif feed_state.state is State.OK and feed_state.next_fetch is not None:
        notes.append(short(f"fresh by {fresh_source(row['fresh_by'])}"))
    if row["last_warning"]:
        notes.append(short(row["last_warning"]))
    return "; ".join(notes)


@cli.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Scratch folder for the demo's config and database.",
)
def demo(out: Path) -> None:
    """Serve the bundled sample feeds on 127.0.0.1 and run the pipeline on them (offline)."""
    from .demo import run_demo
    from .publish.site import build_from_config

    with _errors():
        config, _summaries = run_demo(out, click.echo)
        with Store(config.database) as store:
            total = store.count_posts()
        report = build_from_config(config)
    # Name the commands as this one was run (.venv/bin/aggregator after `make demo`).
    here = Path(sys.argv[0])
    command = str(here) if here.parent != Path() and here.name == "aggregator" else "aggregator"
    sqlite_utils = Path(command).with_name("sqlite-utils") if "/" in command else Path("sqlite-utils")
    click.echo(f"\nStored {total} posts in {config.database}")
    click.echo(f"Built the site: {report.pages} pages in {report.out}; open {report.out / 'index.html'}")
    click.echo("Look around:")
    click.echo(f"  {command} --config {out / 'feeds.yaml'} status")
    click.echo(f"  {command} --config {out / 'feeds.yaml'} dropped")
    click.echo(
        f"  {sqlite_utils} {config.database} --table "
        "'select published, title from posts order by published desc limit 10'"
    )


def _existing_database(obj: Context) -> Config:
    """The configuration, once its database is known to exist."""
    config = obj.config()
    if not Path(config.database).exists():
        raise DatabaseError(f"{config.database} does not exist yet; run `aggregator update` first")
    return config


def _open_store(obj: Context) -> tuple[Config, Store]:
    config = _existing_database(obj)
    return config, Store(config.database)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing unless the backup failed.")
@click.pass_obj
def backup(obj: Context, path: Path, force: bool, quiet: bool) -> None:
    """Copy the database to PATH, consistently even while a run writes to it.

    The copy is checked (PRAGMA integrity_check) and only then put at PATH, which is
    never replaced unless --force is given.
    """
    import signal

    from .dbfile import backup_database
    from .store import migrations

    # SIGTERM (a timeout, a shutdown) ends the backup through its cleanup: the partial
    # copy, as large as the database, is removed instead of left beside PATH.
    previous = signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    try:
        with _errors():
            config = _existing_database(obj)
            report = backup_database(Path(config.database), path, migrations.name, force=force)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not quiet:
        click.echo(
            f"backed up {report.source} to {report.path}: {report.size:,} bytes, "
            f"{report.posts} posts; integrity check ok"
        )


@cli.command()
@click.option("--feed", help="Only this feed (URL or name).")
@click.option(
    "--reason",
    type=click.Choice(["non_english", "offtopic", "spam", "feed_drift"]),
    help="Only posts dropped for this reason.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only posts published on or after this date (YYYY-MM-DD).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=200, show_default=True, help="At most this many posts."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per post.")
@click.pass_obj
def dropped(
    obj: Context, feed: str | None, reason: str | None, since: datetime | None, limit: int, as_json: bool
) -> None:
    """List dropped and held posts, newest first, with the reason."""
    with _errors():
        config, store = _open_store(obj)
        with store:
            # A feed still in the database (removed from feeds.yaml since) is listed too.
            known = {f.url for f in config.feeds} | {f.name for f in config.feeds}
            if feed and feed not in known and not any(feed in (r["url"], r["name"]) for r in store.feeds()):
                raise AggregatorError(
                    f"--feed {feed!r} is neither the name nor the URL of a feed in {config.path} or "
                    "the database; `aggregator status` lists them"
                )
            rows = store.dropped(feed, reason, since.date().isoformat() if since else None, limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        click.echo("No dropped or held posts match.")
        return
    # MODEL SCORE: the networking score screening gave, whatever decided the post.
    click.echo(
        f"{'POST':<20} {'PUBLISHED':<10} {'STATUS':<7} {'REASON':<18} {'LANG':<4} {'MODEL SCORE':>11}  "
        "FEED: TITLE"
    )
    for row in rows:
        score = f"{row['score']:.2f}" if row["score"] is not None else "-"
        reason = override_words(row["override"]) or row["reason"] or "-"
        click.echo(
            f"{row['id']:<20} {row['published'][:10]:<10} {row['status']:<7} {reason:<18} "
            f"{row['lang'] or '-':<4} {score:>11}  {row['feed']}: {row['title'][:80]}"
        )


@cli.command()
@click.argument("post")
@click.pass_obj
def explain(obj: Context, post: str) -> None:
    """Why a post was kept, dropped or held: language, model terms, signals, baseline."""
    from .screen.verdict import Screener

    with _errors():
        if not re.fullmatch(r"[0-9a-fA-F]+", post):
            raise AggregatorError(
                f"{post!r} is not a post id: ids are hex digits, as `aggregator dropped` prints them"
            )
        post = post.lower()
        config, store = _open_store(obj)
        with store:
            row = store.post(post)
            if row is None:
                matches = store.ids_starting(post, 6)
                if len(matches) > 1 and post:
                    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
                    raise AggregatorError(
                        f"{post!r} is the start of more than one post's id ({shown}); give more of the id"
                    )
                raise AggregatorError(f"no post with id {post!r}; `aggregator dropped` lists ids")
            baseline = store.baseline(row["feed_url"])
            published = store.published_topics(row["id"])
        screener = Screener.load(config.languages)
    scores = json.loads(row["scores"] or "{}")
    click.echo(f"{row['title']}")
    click.echo(
        f"  post {row['id']} from {row['feed_name']}, {row['published'][:10]}: {row['link'] or '(no link)'}"
    )
    click.echo(f"  status: {_explained_status(row)}")
    click.echo(f"  model: {row['model_version'] or 'not screened'}")
    language = scores.get("language") or {}
    probs = ", ".join(f"{k} {v:.2f}" for k, v in language.items()) or "none"
    decided = scores.get("language_decided_by", "?")
    click.echo(f"  language: {row['lang']} (decided by {decided}; langdetect: {probs})")
    # The stage that decided: an override, else the feed's baseline when it held or
    # dropped the post (feed_drift), else screening.
    by_baseline = not row["override"] and (row["reason"] == "feed_drift" or row["status"] == "held")
    if by_baseline:
        note = scores.get("baseline") or "the feed is in quarantine"
        click.echo(f"  decided by: the feed's baseline: {note}")
    if scores.get("decided_by"):
        by = "screening decided by" if row["override"] or by_baseline else "decided by"
        click.echo(f"  {by}: {scores['decided_by']}")
    score = f"{row['score']:.2f}" if row["score"] is not None else "none (not screened)"
    click.echo(
        f"  the model's networking score: {score} (thresholds {screener.threshold:.2f} with networking "
        f"names, {screener.ambiguous_threshold:.2f} with ambiguous words only, {screener.strong:.2f} "
        "with no networking word)"
    )
    from .screen.text import leads, screening_text

    _teaser, lead = leads(row["summary_html"] or "", row["content_html"] or "")
    reading, batch = screener.read([screening_text(row["title"] or "", lead)], [row["title"] or ""])
    found = reading.found
    terms = ", ".join(scores.get("networking_terms") or []) or "none"
    click.echo(f"  networking terms that count: {terms}")
    for term in scores.get("ambiguous_terms") or []:
        counted = "counted: networking terms stand beside it" if found[0].in_context else "not counted alone"
        click.echo(f"  ambiguous term {term} ({counted})")
    general = ", ".join(scores.get("general_terms") or []) or "none"
    click.echo(f"  general-computing terms (evidence against): {general}")
    words = reading.words[0]
    click.echo("  terms behind the score (+ networking, - other; ~ are the lexicon's concepts):")
    for term, weight in screener.model.terms(words, tuple(reading.concepts[0])):
        click.echo(f"    {weight:+.3f}  {term}")
    tags = json.loads(row["tags"] or "[]")
    click.echo("  topics: " + ("none" if not tags else ""))
    for tag in tags:
        click.echo(f"    {tag['topic']:<12} score {tag['score']:.2f}, from: {', '.join(tag['terms'])}")
    for note in _second_topics_left_out(screener, reading, batch):
        click.echo(f"    {note}")
    if screener.topics is not None:
        for _post, j in screener.topics.titled(reading):
            click.echo(
                f"    {screener.topics.topics[j]}: given because the title names it, before any "
                "setting words, by the topic's own name"
            )
    if row["status"] != "kept":
        click.echo("  published topics: none; the post is not published")
    elif row["corrected"]:
        # The topics above are the model's; the site publishes the corrected ones.
        click.echo(
            f"  published topics, set by the site's corrections ({CORRECTIONS_FILE}): "
            + (", ".join(published) or "none")
        )
    signals = scores.get("signals") or []
    click.echo(f"  spam signals: {', '.join(signals) if signals else 'none'}")
    if scores.get("baseline"):
        click.echo(f"  feed baseline: {scores['baseline']}")
    click.echo(
        f"  feed baseline now: {baseline.screened} screened, {baseline.keep_rate:.0%} kept, usual language "
        f"{baseline.usual_lang or 'unknown'}, {baseline.departures} departures in a row"
        + (", QUARANTINED" if baseline.quarantined else "")
    )


def _second_topics_left_out(screener: Any, reading: Any, batch: Any) -> list[str]:
    """The topics that clear their threshold but are not given, being under the share of
    the main topic's probability a second topic needs (the current model's reading)."""
    model = screener.topics
    if model is None or not model.second_share:
        return []
    from .topics.model import given

    probabilities = model.probabilities(batch, reading)
    tagged = given(probabilities, model.low, model.second_share)[0]
    left_out = (probabilities[0] >= model.low) & ~tagged
    if not left_out.any():
        return []
    scores = probabilities[0]
    main = int((scores * tagged).argmax())  # the likeliest topic given
    needed = model.second_share * float(scores[main])
    return [
        f"not given: {topic} score {float(scores[j]):.2f} clears its threshold "
        f"{float(model.low[j]):.2f}, but a second topic needs {model.second_share:g} of the main "
        f"one's ({model.topics[main]} {float(scores[main]):.2f}): {needed:.2f}"
        for j, topic in enumerate(model.topics)
        if left_out[j]
    ]


def _explained_status(row: dict[str, Any]) -> str:
    """A post's status and reason, such as "dropped (spam)"; for a post an override
    decided, "dropped: denied by override" and what screening alone said."""
    words = override_words(row["override"])
    if words is None:
        return str(row["status"]) + (f" ({row['reason']})" if row["reason"] else "")
    if row["screen_status"]:
        alone = row["screen_status"] + (f", {row['screen_reason']}" if row["screen_reason"] else "")
    else:
        alone = "not screened"
    return f"{row['status']}: {words} in {OVERRIDES_FILE} (screening alone: {alone})"


@cli.command()
@click.argument("feed")
@click.pass_obj
def release(obj: Context, feed: str) -> None:
    """End a feed's quarantine (URL or name) and publish its held posts."""
    with _errors():
        config, store = _open_store(obj)
        match = [f for f in config.feeds if feed in (f.url, f.name)]
        if not match:
            raise AggregatorError(f"{feed!r} is neither the name nor the URL of a feed in {config.path}")
        with store:
            quarantined = any(f["quarantined"] for f in store.feeds([match[0].url]))
            denied = store.held_denied(match[0].url)
            count = store.release(match[0].url, datetime.now(UTC))
    if not quarantined and not count:
        click.echo(f"{match[0].name}: not in quarantine, and no post of it is held; nothing to release")
    else:
        still = f"; {denied} stay dropped, denied in {OVERRIDES_FILE}" if denied else ""
        click.echo(f"{match[0].name}: quarantine ended; {count - denied} held post(s) published{still}")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def label(obj: Context, file: Path) -> None:
    """Screen JSON Lines (id, title, summary[, feed_url, feed_title, lang_hint]); print verdicts.

    Standard output carries one JSON line per input line and nothing else.
    """
    from .label import LABEL_FIELDS, label_notes, label_problems, label_rows, read_rows

    with _errors():
        context = _label_context(obj)
        out = sys.stdout
        rows = read_rows(file, LABEL_FIELDS, label_problems)
        for result in label_rows(rows, context):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    for note in label_notes(rows):
        click.echo(f"aggregator label: {file}: {note}", err=True)


def _label_context(obj: Context) -> Any:
    from .label import LabelContext
    from .overrides import load_overrides
    from .screen.verdict import Screener
    from .settle import overrides_path

    try:
        config = obj.config()
        languages, overrides_file = config.languages, overrides_path(config)
        database = config.database
    except ConfigError:
        if Path(obj.config_path).exists():
            raise
        # No configuration (none there, or --config names none: evaluation harnesses point
        # it away from the working folder's): the site's defaults, documented.
        languages, overrides_file, database = ("en",), Path.cwd() / "overrides.yaml", None
    screener = Screener.load(languages)
    overrides = load_overrides(overrides_file)
    if database and Path(database).exists():
        store = Store(database)
        known = {row["url"] for row in store.feeds()}
        return LabelContext(screener, lambda url: store.baseline(url) if url in known else None, overrides)
    return LabelContext(screener, overrides=overrides)


@cli.command()
@click.option(
    "--file",
    "files",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Screening evaluation set, repeatable (default: every models/data/eval_*.jsonl).",
)
@click.option(
    "--topics-file",
    "topics_files",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Topic evaluation set, repeatable (default: every models/data/topics_eval*.jsonl, "
    "or none when --file is given).",
)
@click.option("--show", default=15, show_default=True, help="Mistakes to list.")
@click.option(
    "--together",
    is_flag=True,
    help="Also measure the screening sets as one: small labelled sets give one figure with a tighter margin.",
)
@click.pass_obj
def evaluate(
    obj: Context, files: tuple[Path, ...], topics_files: tuple[Path, ...], show: int, together: bool
) -> None:
    """Measure screening and topic tagging on the team's evaluation sets (never trained on)."""
    from .cards import MODEL_DIR
    from .label import LabelContext, evaluation_problems, read_rows
    from .label import evaluate as run_evaluation
    from .screen.verdict import Screener

    with _errors():
        screener = Screener.load(("en",))
        check = evaluation_problems(screener.topics.topics if screener.topics is not None else ())
        every: list[dict[str, Any]] = []
        paths = files or sorted((MODEL_DIR / "data").glob("eval_*.jsonl"))
        for path in paths:
            rows = read_rows(path, ("id", "title", "summary", "expect"), check)
            every += rows
            _print_screening(path, run_evaluation(rows, LabelContext(screener)), show)
        if together and len(paths) > 1:
            names = ", ".join(path.name for path in paths)
            _print_screening(
                f"{len(paths)} sets together ({names})", run_evaluation(every, LabelContext(screener)), show
            )
        for topics_file in topics_files or (
            [] if files else sorted((MODEL_DIR / "data").glob("topics_eval*.jsonl"))
        ):
            _evaluate_topics(topics_file, screener)


def _print_screening(path: Path | str, result: Any, show: int) -> None:
    figures, baseline = result.figures, result.baseline
    click.echo(f"{path}: {result.total} posts")
    for expect in sorted(result.by_expect):
        counts = result.by_expect[expect]
        detail = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        click.echo(f"  expected {expect:<12} {sum(counts.values()):>4}: {detail}")
    click.echo(f"  {'':<36} {'model':>16} {'keyword list':>16}  target")

    def share(n: int, of: int) -> str:
        return f"{n} of {of} ({n / of:.1%})" if of else "none"

    click.echo(
        f"  {'English networking wrongly dropped:':<36} {share(figures.dropped, figures.networking):>16} "
        f"{share(baseline.dropped, baseline.networking):>16}  at most 1 in 200"
    )
    click.echo(
        f"  {'non-English kept:':<36} {share(figures.foreign_kept, figures.foreign):>16} "
        f"{share(baseline.foreign_kept, baseline.foreign):>16}  0"
    )
    # With no off-topic or spam post in the set there is nothing to catch: no F1 to claim.
    if any(sum(result.by_expect.get(expect, {}).values()) for expect in ("offtopic", "spam")):
        click.echo(
            f"  {'off-topic and spam dropped, F1:':<36} {figures.offtopic_f1:>16.3f} "
            f"{baseline.offtopic_f1:>16.3f}  >= 0.95 "
            f"(P {figures.offtopic_precision:.3f}, R {figures.offtopic_recall:.3f})"
        )
    else:
        click.echo(f"  {'off-topic and spam dropped, F1:':<36} {'none':>16} {'none':>16}  >= 0.95")
    if len(result.by_class) > 1:
        click.echo("  right by class: " + ", ".join(f"{c} {r}/{n}" for c, (r, n) in result.by_class.items()))
    for row, got in result.mistakes[:show]:
        # The row as given: a title or summary may be null, or a number.
        title = str(row.get("title") or "") or str(row.get("summary") or "")[:60] or "(empty)"
        click.echo(
            f"  wrong: {row.get('class') or row['expect']}: expected {row['expect']}, "
            f"got {got['reason'] or 'keep'}: {title[:90]}"
        )
    if result.topics is not None:
        _print_topics(f"  tags of the {result.topics.rows} networking posts", result.topics)
    click.echo("")


def _evaluate_topics(path: Path, screener: Any) -> None:
    from .label import evaluate_topics, evaluation_problems, read_rows

    topics = screener.topics.topics if screener.topics is not None else ()
    rows = read_rows(path, ("id", "title", "topics"), evaluation_problems(topics, expect=False))
    result = evaluate_topics(rows, screener)
    _print_topics(f"{path}: {result.rows} posts with known topics", result)
    click.echo("")


def _print_topics(heading: str, result: Any) -> None:
    from .topics.model import REQUIRED_TOPICS

    click.echo(heading)
    if not result.rows:
        click.echo("  nothing to measure: no post with topics")
        return
    width = max([len("TOPIC"), *map(len, result.metrics)])
    columns = f"{'POSTS':>5} {'PRECISION':>9} {'RECALL':>7} {'F1':>6} {'KEYWORDS F1':>12}"
    click.echo(f"  {'TOPIC':<{width}} {columns}")

    def score(value: float, support: int, precision: float) -> str:
        # A topic no post has: recall is undefined, and so are precision and F1 unless the
        # topic was given anyway (then they are 0): a '-', not a perfect 1.000.
        return "-" if not support and precision == 1.0 else f"{value:.3f}"

    for topic, (support, precision, recall, f1) in result.metrics.items():
        keyword = result.keyword_metrics.get(topic, (0, 1.0, 1.0, 0.0))
        click.echo(
            f"  {topic:<{width}} {support:>5} {score(precision, support, precision):>9} "
            f"{'-' if not support else f'{recall:.3f}':>7} {score(f1, support, precision):>6} "
            f"{score(keyword[3], support, keyword[1]):>12}"
        )
    click.echo(f"  micro-F1 over all topics: {result.micro_f1:.3f}")
    required = ", ".join(REQUIRED_TOPICS)
    click.echo(
        f"  micro-F1 over {required}: model {result.required_micro_f1:.3f}, "
        f"taxonomy keywords alone {result.keyword_micro_f1:.3f}"
    )
    if result.confusions:
        pairs = ", ".join(f"{a} as {b} ({n})" for (a, b), n in result.confusions.most_common(8))
        click.echo(f"  confusions (missed topic tagged as another): {pairs}")


@cli.command()
@click.pass_obj
def train(obj: Context) -> None:
    """Train the screening and topic models from models/data (deterministic) into models/.

    Posts whose topics corrections.yaml corrected (in the configured database) are folded
    into the topic training data.
    """
    from .train import check_topic_corpus, train_screening, train_topics

    with _errors():
        check_topic_corpus()  # every data file is read before either model is written
        corrected: list[dict[str, Any]] = []
        if Path(obj.config_path).exists():
            config = obj.config()
            if Path(config.database).exists():
                with Store(config.database) as store:
                    corrected = store.corrected_posts()
        train_screening(echo=click.echo)
        train_topics(echo=click.echo, corrected=corrected)
        if corrected:
            click.echo(f"folded {len(corrected)} corrected post(s) into the topic training data")


def main() -> None:
    cli(prog_name="aggregator")


if __name__ == "__main__":
    main()
