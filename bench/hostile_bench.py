"""Hostile feeds: the time and peak memory of each shape, ours beside feedparser on its own.

Not a test: it prints a table and exits 0 whatever the numbers are.

1. Each shape of tests/hostile.py (entity expansion, external references, markup floods) is
   built at --size bytes (default: just under fetch.max_bytes) and parsed in a fresh
   process, once by aggregator.parse.read_feed and once by feedparser.parse alone (as it
   comes, without our guards). Each process prints its wall time and its peak RSS
   (ru_maxrss, which includes the interpreter and the libraries, about 40 MB for
   feedparser alone and more for ours). feedparser alone runs under an address-space
   limit (--feedparser-limit-mb) and a timeout, so a shape that would take the machine
   down is reported as over the limit instead.
2. `aggregator update` runs once over every shape together, served from a loopback HTTP
   server, and the peak of the summed RSS of its process tree is sampled every 20 ms
   (bench/update_bench.py's sampler). Target: under 300 MB.

    .venv/bin/python bench/hostile_bench.py                 # every shape at 9.9 MB
    .venv/bin/python bench/hostile_bench.py --size 2000000  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from hostile import EXTERNAL_PATHS, SHAPES  # noqa: E402  # tests/ is put on the path above

from aggregator.feedserver import FeedServer, Route  # noqa: E402

TARGET_PEAK_MB = 300  # the whole update over every shape
TARGET_FEED_MB = 200  # any one feed, parsed alone

# Runs in a fresh interpreter: parse one shape, print one JSON line.
CHILD = r"""
import io, json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from hostile import SHAPES
name, tool, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = int(sys.argv[5])
body = SHAPES[name](size, "http://127.0.0.1:9")
if tool == "feedparser" and limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit * 2**20, limit * 2**20))
if tool == "ours":
    from aggregator.parse import read_feed
    from aggregator.errors import ParseError
    run = lambda: read_feed("https://hostile.example/feed", body, {"content-type": "application/rss+xml"})
else:
    import feedparser
    run = lambda: feedparser.parse(io.BytesIO(body))
start = time.perf_counter()
try:
    result = run()
    if tool == "ours":
        feed, _ = result
        text = sum(len(e.content_html) + len(e.summary_html) + len(e.title) for e in feed.entries)
        outcome = f"read: {len(feed.entries):,} entries, {text:,} chars"
        outcome += f"; {feed.warning}" if feed.warning else ""
    else:
        text = sum(len(e.get("summary", "")) + len(e.get("title", "")) for e in result.entries)
        outcome = f"read: {len(result.entries):,} entries, {text:,} chars"
except MemoryError:
    outcome = f"MemoryError at the {limit:,} MB limit"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"size": len(body), "seconds": elapsed, "peak_mb": peak, "outcome": outcome}))
"""


def parse_alone(name: str, tool: str, size: int, timeout: float, limit_mb: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", CHILD, name, tool, str(size), str(ROOT / "tests"), str(limit_mb)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {
            "seconds": timeout,
            "peak_mb": float("nan"),
            "outcome": f"still running after {timeout:.0f} s",
        }
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"seconds": float("nan"), "peak_mb": float("nan"), "outcome": f"crashed: {last}"}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def update_all(size: int) -> tuple[float, float, str]:
    from update_bench import PeakTreeMemory

    with FeedServer() as server, tempfile.TemporaryDirectory() as folder:
        origin = server.url("").rstrip("/")
        for name, shape in SHAPES.items():
            server.routes[f"/{name}.xml"] = Route(body=shape(size, origin))
        config = Path(folder) / "feeds.yaml"
        lines = ["fetch:", f"  allow_private_addresses: ['{server.host}:{server.port}']", "feeds:"]
        for name in SHAPES:
            lines += [f"  - url: {server.url(f'/{name}.xml')}", f"    name: {name}"]
        config.write_text("\n".join(lines) + "\n")
        aggregator = str(Path(sys.executable).parent / "aggregator")
        command = [aggregator, "--config", str(config), "update", "-v"]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with PeakTreeMemory(process.pid) as memory:
            output, _ = process.communicate()
        elapsed = time.perf_counter() - start
        fetched = [path for path, _ in server.requests if path in EXTERNAL_PATHS]
    lines = output.strip().splitlines()
    summary = lines[-1] if lines else "(no output)"
    for line in lines[:-1]:
        print(f"  {line.strip()[:150]}")
    if fetched:
        summary += f"; FETCHED {fetched}"
    return elapsed, memory.peak_rss / 2**20, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=9_900_000, help="bytes per document")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a parse is stopped")
    parser.add_argument("--feedparser-limit-mb", type=int, default=4096, help="address space for feedparser")
    parser.add_argument("--shape", action="append", help="only these shapes (repeatable)")
    args = parser.parse_args()
    names = args.shape or list(SHAPES)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print(f"each shape at {args.size:,} bytes; time and peak RSS of a fresh process per parse")
    print(f"{'shape':18} {'tool':10} {'seconds':>8} {'peak MB':>8}  outcome")
    worst = 0.0
    for name in names:
        for tool in ("ours", "feedparser"):
            row = parse_alone(name, tool, args.size, args.timeout, args.feedparser_limit_mb)
            seconds, peak = float(row["seconds"]), float(row["peak_mb"])  # type: ignore[arg-type]
            if tool == "ours" and peak == peak:
                worst = max(worst, peak)
            print(f"{name:18} {tool:10} {seconds:8.2f} {peak:8.0f}  {str(row['outcome'])[:110]}")
    verdict = "PASS" if worst < TARGET_FEED_MB else "MISS"
    print(f"ours, worst single-feed peak: {worst:.0f} MB (target < {TARGET_FEED_MB} MB): {verdict}")
    elapsed, peak, summary = update_all(args.size)
    verdict = "PASS" if peak < TARGET_PEAK_MB else "MISS"
    print(f"aggregator update over all {len(SHAPES)} shapes: {elapsed:.2f} s, peak tree RSS {peak:.0f} MB")
    print(f"  (target < {TARGET_PEAK_MB} MB): {verdict}; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
