"""Where a first `aggregator update` spends its CPU, by kind of work, in every process.

Serves the bench's synthetic feeds (or, with --shared, the shared mixed corpus) the way
bench/update_bench.py does, runs one first `aggregator update` under py-spy (sampling
the run's process and its parser workers), and sums the samples by the kind of work
their stack is in: fetching, feedparser, sanitizing, our per-entry parsing, screening
and tagging, storing.

    python bench/profile_update.py [--shared] [--feeds N] [--port P] [--keep DIR]

Needs py-spy (in the bench extra: `pip install -e '.[bench]'`, which `make bench` runs)
and the permission to trace child processes.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import update_bench  # the bench's servers and feeds

# The first rule whose marker appears in a stack (innermost frame first) names its kind.
KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("store (SQLite, rows, JSON)", ("store.py", "sqlite_utils", "dbfile.py")),
    (
        "screening and tagging",
        (
            "screen.py",
            # every module of the topic model and the shared features (model.py,
            # reading.py, keywords.py, hashing.py, linear.py...): not only those named below
            "aggregator/topics/",
            "aggregator/features/",
            "aggregator/screen/",
            "classify.py",
            "features.py",
            "lexicon.py",
            "taxonomy.py",
            "tokens.py",
            "spam.py",
            "language.py",
            "baseline.py",
            "langdetect",
        ),
    ),
    ("sanitize (nh3, plain text)", ("sanitize.py", "nh3")),
    ("feedparser", ("feedparser", "feedparsing.py", "xmlguard.py", "expatreader", "xml/sax")),
    ("fast entry reader (fastfeed.py)", ("fastfeed.py",)),
    ("per-entry parsing (parse.py, urls)", ("parse.py", "urls.py", "types.py")),
    ("fetch (httpx, asyncio)", ("fetch.py", "httpx", "httpcore", "h11", "asyncio", "selectors", "ssl")),
    ("process start, imports, models", ("<frozen importlib", "_start_worker", "load", "cli.py")),
    ("pipeline (dispatch, pickling)", ("pipeline.py", "concurrent", "multiprocessing", "pickle")),
]


# Innermost frames of a thread that waits rather than works.
IDLE = (
    "_exit_with.<locals>.watch",
    "Connection._recv",
    "Connection.poll",
    "_wait_for_tstate_lock",
    "Condition.wait",
    "Event.wait",
    "select (",
    "EpollSelector.select",
    "Checkpointer._run",
    "SemLock",
    "sleep",
)


def kind_of(stack: list[str]) -> str:
    """The kind of work of a stack, frames innermost first."""
    for frame in stack:
        for kind, markers in KINDS:
            if any(marker in frame for marker in markers):
                return kind
    return "other"


def summarize(raw: Path) -> None:
    by_kind: collections.Counter[str] = collections.Counter()
    by_process: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack_text.split(";")
        processes = sum(1 for f in frames if f.startswith("process "))
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        innermost_first = frames[::-1]
        if not innermost_first or innermost_first[0].startswith(IDLE):
            continue  # a thread waiting: for a task, a lock, a socket, the run's end
        by_process["the run's process" if processes <= 1 else "parser workers"] += count
        by_kind[kind_of(innermost_first)] += count
        leaves[innermost_first[0] if innermost_first else "?"] += count
    total = sum(by_kind.values()) or 1
    print(f"{'kind of work':40} {'samples':>8} {'share':>6}")
    for kind, count in by_kind.most_common():
        print(f"{kind:40} {count:8} {100 * count / total:5.1f}%")
    print("\nBy process:")
    for process, count in by_process.most_common():
        print(f"  {process:38} {count:8} {100 * count / total:5.1f}%")
    print("\nHottest innermost frames:")
    for frame, count in leaves.most_common(25):
        print(f"  {100 * count / total:5.1f}%  {frame[:150]}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", action="store_true", help="the shared mixed corpus")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    parser.add_argument("--summarize", type=Path, help="only summarize this raw py-spy output")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return 0
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    work = Path(tempfile.mkdtemp(prefix="profile-update-"))
    server: update_bench.FeedServer | update_bench.SharedFeedServer
    if args.shared:
        server, feeds, _ = update_bench.start_shared_server(
            update_bench.SHARED_SERVER, args.feeds, args.port, 0.1, work / "shared"
        )
    else:
        hosts = update_bench.loopback_hosts(min(args.feeds // 4 or 1, args.feeds))
        feeds = update_bench.generate_feeds(args.feeds, hosts, args.port, 1)
        server = update_bench.start_server(feeds, hosts, args.port, 0.1)
    try:
        env = update_bench.tool_env(work)
        update_bench.prepare_ours(work, feeds, env, work / "output.log")
        raw = work / "profile.txt"
        command = [spy, "record", "--subprocesses", "--rate", str(args.rate), "--format", "raw"]
        command += ["--output", str(raw), "--", *update_bench.command_ours(work)]
        subprocess.run(command, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
        summarize(raw)
    finally:
        server.stop()
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
