"""The `aggregator` command. Thin: it parses arguments and calls library functions."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import DEFAULT_CONFIG, load_config
from .errors import AggregatorError, ConfigError, DatabaseError, LockHeld
from .pipeline import run_update
from .store import Store, parse_iso
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
    except AggregatorError as exc:
        click.echo(f"aggregator: {exc}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    Reads the feeds listed in feeds.yaml, stores posts in SQLite, and (in later
    stages) screens, tags and publishes them.
    """
    ctx.obj = Context(config_path, db)


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate feeds.yaml and print a summary."""
    with _errors():
        config = obj.config()
    blogs = sum(1 for f in config.feeds if f.kind.value == "blog")
    allow = config.fetch.allow_private_addresses
    click.echo(f"{config.path}: OK")
    click.echo(f"  site:      {config.site.title} <{config.site.url}>")
    click.echo(f"  feeds:     {len(config.feeds)} ({blogs} blogs, {len(config.feeds) - blogs} podcasts)")
    click.echo(f"  languages: {', '.join(config.languages)}")
    click.echo(f"  database:  {config.database}")
    click.echo(
        f"  fetch:     {config.fetch.concurrency} at once, {config.fetch.per_host} per host, "
        f"timeout {config.fetch.timeout:g} s, deadline {config.fetch.deadline:g} s, "
        f"max {config.fetch.max_bytes:,} bytes"
    )
    if allow:
        what = "all private addresses" if allow is True else ", ".join(allow or ())
        click.echo(f"  private addresses allowed: {what}")
    for feed in config.feeds:
        if feed.allow_private_addresses:
            click.echo(f"  private addresses allowed for {feed.name} (line {feed.line})")


def _tty() -> bool:
    return sys.stdout.isatty()


def _print_summary(summary: RunSummary, config: Config) -> None:
    names = {f.url: f.name for f in config.feeds}
    for outcome in summary.outcomes:
        if outcome.outcome in (Outcome.ERROR, Outcome.GONE):
            click.echo(f"  failed: {names.get(outcome.url, outcome.url)}: {outcome.error}")
    click.echo(summary.line())


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
        _print_summary(summary, config)


_update_options = [
    click.option("-q", "--quiet", is_flag=True, help="Print nothing unless the run cannot go on."),
    click.option("-v", "--verbose", is_flag=True, help="Print the summary even without a terminal."),
    click.option("--force", is_flag=True, help="Fetch every feed now, ignoring backoff and 410s."),
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


@cli.command()
@_with_update_options
@click.pass_obj
def run(obj: Context, quiet: bool, verbose: bool, force: bool, feeds: tuple[str, ...]) -> None:
    """The cron entry point: the whole pipeline (for now: update)."""
    _do_update(obj, quiet, verbose, force, feeds)


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
        config = obj.config()
        if not Path(config.database).exists():
            raise DatabaseError(f"{config.database} does not exist yet; run `aggregator update` first")
        with Store(config.database) as store:
            rows = store.feeds(f.url for f in config.feeds)
            counts = store.feed_post_counts()
            last = store.last_run()
    now = datetime.now(UTC)
    known = {r["url"] for r in rows}
    if as_json:
        for row in rows:
            click.echo(json.dumps({**row, "posts": counts.get(row["url"], 0)}, sort_keys=True))
        return
    header = (
        f"{'FEED':<28} {'STATUS':>6} {'LAST SUCCESS':>13} {'ERR':>3} {'NEXT FETCH':>11} {'POSTS':>5}  NOTE"
    )
    click.echo(header)
    for row in rows:
        if row["gone"]:
            note = "gone (410): remove it from the configuration"
        elif row["redirect_url"]:
            note = f"moved permanently: change url to {row['redirect_url']}"
        elif row["last_error"]:
            note = row["last_error"]
        else:
            note = row["last_warning"] or ""
        nxt = _ago(row["next_fetch"], now) if row["next_fetch"] else "next run"
        click.echo(
            f"{row['name'][:28]:<28} {row['last_status'] or '-':>6} "
            f"{_ago(row['last_success'], now):>13} {row['consecutive_errors']:>3} "
            f"{nxt:>11} {counts.get(row['url'], 0):>5}  {note[:120]}"
        )
    for feed in config.feeds:
        if feed.url not in known:
            click.echo(
                f"{feed.name[:28]:<28} {'-':>6} {'never':>13} {0:>3} {'next run':>11} {0:>5}  not fetched yet"
            )
    if last:
        state = "finished" if last["finished"] else "did not finish (interrupted?)"
        click.echo(
            f"\nLast run {last['started']} {state}: {last['ok']} ok, {last['not_modified']} not "
            f"modified, {last['failed']} failed, {last['skipped']} skipped; "
            f"{last['new_posts']} new posts, {last['updated_posts']} updated"
        )


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

    with _errors():
        config, _summaries = run_demo(out, click.echo)
        with Store(config.database) as store:
            total = store.count_posts()
    # Name the commands as this one was run (.venv/bin/aggregator after `make demo`).
    here = Path(sys.argv[0])
    command = str(here) if here.parent != Path() and here.name == "aggregator" else "aggregator"
    sqlite_utils = Path(command).with_name("sqlite-utils") if "/" in command else Path("sqlite-utils")
    click.echo(f"\nStored {total} posts in {config.database}")
    click.echo("Look around:")
    click.echo(f"  {command} --config {out / 'feeds.yaml'} status")
    click.echo(
        f"  {sqlite_utils} {config.database} --table "
        "'select published, title from posts order by published desc limit 10'"
    )


def main() -> None:
    cli(prog_name="aggregator")


if __name__ == "__main__":
    main()
