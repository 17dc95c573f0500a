"""Screening throughput on one core, beside plain langdetect on the same posts.

Usage: .venv/bin/python bench/screen_bench.py [--repeat N]

Posts: the team's evaluation set (models/data/eval_screening.jsonl: short and long,
English and other languages) plus long posts built from the training corpus, repeated.
Prints posts per second for the full screening path (`aggregator label` without its
start-up, topic tagging included), for langdetect alone (what a naive filter pays per
post), for topic tagging alone, the models' load time and the process's peak memory.
A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.label import LabelContext, label_rows  # noqa: E402
from aggregator.screen.verdict import Screener  # noqa: E402


def posts(repeat: int) -> list[dict[str, str]]:
    data = ROOT / "models" / "data"
    short = [json.loads(line) for line in (data / "eval_screening.jsonl").read_text().splitlines() if line]
    corpus = [
        json.loads(line)
        for path in sorted(data.glob("train_*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]
    # Long posts: several corpus summaries run together, about 2-3 KB each.
    long = [
        {
            "id": f"long-{i}",
            "title": corpus[i]["title"],
            "summary": " ".join(r.get("summary", "") for r in corpus[i : i + 12]),
        }
        for i in range(0, len(corpus) - 12, 12)
    ]
    mix = short + long
    return [dict(row, id=f"{row['id']}-{n}") for n in range(repeat) for row in mix]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    started = time.perf_counter()
    screener = Screener.load()
    load = time.perf_counter() - started
    rows = posts(args.repeat)
    long_share = sum(1 for r in rows if r["id"].startswith("long")) / len(rows)

    list(label_rows(rows[:50], LabelContext(screener)))  # warm up (langdetect profiles)
    started = time.process_time()
    results = list(label_rows(rows, LabelContext(screener)))
    ours = time.process_time() - started

    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0
    sample = rows[: min(len(rows), 2000)]
    started = time.process_time()
    for row in sample:
        with contextlib.suppress(Exception):  # langdetect raises on text without features
            detect_langs(f"{row['title']}\n{row.get('summary', '')}"[:1000])
    naive = (time.process_time() - started) / len(sample)

    from aggregator.screen.text import TEXT_LIMIT
    from aggregator.topics.model import TopicModel

    started = time.perf_counter()
    TopicModel.load()
    topic_load = time.perf_counter() - started
    texts = [f"{r['title']}\n{r.get('summary', '')}"[:TEXT_LIMIT] for r in rows]
    titles = [r["title"] for r in rows]
    topics = screener.topics
    assert topics is not None
    started = time.process_time()
    for text, title in zip(texts, titles, strict=True):
        topics.tag_batch(*reversed(screener.read([text], [title])))
    tagging = time.process_time() - started
    # As `aggregator update` tags: a feed's posts together (35 at a time here).
    started = time.process_time()
    for start in range(0, len(texts), 35):
        reading, batch = screener.read(texts[start : start + 35], titles[start : start + 35])
        topics.tag_batch(batch, reading)
    batched = time.process_time() - started
    # The fast path: posts whose language the script and the function words decide, with
    # no langdetect (English prose): screening and tagging together, a feed at a time.
    fast = [
        (r["title"], r.get("summary", ""), "en")
        for r, result in zip(rows, results, strict=True)
        if result["scores"]["language_decided_by"] in ("function words", "English vocabulary")
    ]
    started = time.process_time()
    for start in range(0, len(fast), 35):
        screener.screen(fast[start : start + 35])
    fast_time = time.process_time() - started

    kept = sum(1 for r in results if r["keep"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts screened:          {len(rows)} ({long_share:.0%} long), {kept} kept")
    print(
        f"screening, one core:     {len(rows) / ours:,.0f} posts/s ({ours / len(rows) * 1e6:.0f} us a post)"
    )
    print(f"langdetect alone:        {1 / naive:,.0f} posts/s ({naive * 1e6:.0f} us a post)")
    print(f"ratio (ours / langdetect alone): {(len(rows) / ours) * naive:.1f}x the throughput")
    print(f"model load:              {load * 1000:.0f} ms (topic model alone: {topic_load * 1000:.0f} ms)")
    print(f"topic tagging alone:     {len(rows) / tagging:,.0f} posts/s one by one (target >= 2000)")
    print(f"                         {len(rows) / batched:,.0f} posts/s 35 at a time, as an update does")
    print(f"peak memory:             {peak:.0f} MB")
    print(
        f"fast path, one core:     {len(fast) / fast_time:,.0f} posts/s screened and tagged, a feed at "
        f"a time ({len(fast)} posts decided without langdetect; target >= 2000)"
    )
    print(f"target >= 500 posts/s:   {'PASS' if len(rows) / ours >= 500 else 'MISS'}")
    print(f"target fast path >= 2000 posts/s: {'PASS' if len(fast) / fast_time >= 2000 else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
