"""Dump what an update stored, without the clock, and compare two databases.

A speed change must not change what a first run stores: for the same served feeds, the
posts (contents, verdicts, reasons, tags), their topics and the feeds' screening state
must be the same before and after it. This script reads those tables of one or two
databases made by `aggregator update` (for instance with `bench/update_bench.py --keep
--only ours`, once with each version of the code, on the same port) and prints them as
sorted JSON lines, leaving out the values that depend on when the run happened.

    python bench/compare_runs.py A.db                # the dump, on stdout
    python bench/compare_runs.py A.db B.db           # the differences; exit 1 if any
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

# Columns the run's clock sets: when a post or feed was seen, fetched or screened.
CLOCK_COLUMNS = {
    "posts": {"first_seen", "last_changed", "screened_at"},
    "feeds": {"added", "last_fetch", "last_success", "next_fetch", "quarantined"},
}
# Tables and the key they are sorted by.
TABLES = {"posts": "id", "post_topics": "post_id, topic", "feeds": "url"}


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[str]:
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    clock = CLOCK_COLUMNS.get(table, set())
    kept = [c for c in columns if c not in clock]
    query = f"SELECT {', '.join(kept)} FROM {table} ORDER BY {TABLES[table]}"
    for values in conn.execute(query):
        row = dict(zip(kept, values, strict=True))
        if table == "posts" and row.get("date_source") == "first_seen":
            row["published"] = "(first seen)"  # the run's clock, for an undated post
        if table == "feeds":
            quarantined = conn.execute(
                "SELECT quarantined IS NOT NULL FROM feeds WHERE url = ?", [row["url"]]
            )
            row["quarantined"] = bool(quarantined.fetchone()[0])
        yield f"{table} {json.dumps(row, ensure_ascii=False, sort_keys=True)}"


def dump(path: Path) -> list[str]:
    """Every line of the dump of the database at path."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such database file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [line for table in TABLES for line in _rows(conn, table)]
    finally:
        conn.close()


def summary(lines: list[str]) -> str:
    counts = {table: sum(1 for line in lines if line.startswith(f"{table} ")) for table in TABLES}
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return ", ".join(f"{n} {table}" for table, n in counts.items()) + f"; sha256 {digest}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("databases", nargs="+", type=Path, metavar="DB", help="one or two database files")
    parser.add_argument("--context", type=int, default=0, help="unchanged lines shown around a difference")
    args = parser.parse_args(argv)
    if len(args.databases) > 2:
        parser.error("give one database (to dump) or two (to compare)")
    if len(args.databases) == 1:
        for line in dump(args.databases[0]):
            print(line)
        return 0
    first, second = (dump(path) for path in args.databases)
    print(f"{args.databases[0]}: {summary(first)}")
    print(f"{args.databases[1]}: {summary(second)}")
    if first == second:
        print("same posts, verdicts, reasons, tags, contents and feed states")
        return 0
    diff = list(
        difflib.unified_diff(
            first, second, str(args.databases[0]), str(args.databases[1]), lineterm="", n=args.context
        )
    )
    changed = sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
    print(f"DIFFERENT: {changed} line(s) differ")
    for line in diff[:200]:
        print(line[:400])
    return 1


if __name__ == "__main__":
    sys.exit(main())
