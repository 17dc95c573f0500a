"""`aggregator label` and `aggregator evaluate`: the screening path on JSON Lines input.

Each input line has at least id, title and summary (optional feed_url, feed_title,
lang_hint). The text goes through the same steps as a fetched post: sanitizing, the
language, spam and model checks, the feed's baseline when the database knows the feed,
and the owner's overrides.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline import Baseline, judge
from .overrides import Overrides
from .sanitize import clean_html, plain_text, text_of_clean_html
from .screen import TEXT_LIMIT, Screener, tokens

BATCH = 512


@dataclass(frozen=True)
class LabelContext:
    screener: Screener
    baselines: Callable[[str], Baseline | None] = lambda _url: None
    overrides: Overrides = field(default_factory=Overrides)


def _text(row: dict[str, Any]) -> tuple[str, str]:
    title = plain_text(str(row.get("title") or ""))
    summary = str(row.get("summary") or "")
    return title, text_of_clean_html(clean_html(summary, None)[:3000])


def label_rows(rows: Iterable[dict[str, Any]], context: LabelContext) -> Iterator[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield from _label_batch(batch, context)
            batch = []
    if batch:
        yield from _label_batch(batch, context)


def _label_batch(rows: list[dict[str, Any]], context: LabelContext) -> Iterator[dict[str, Any]]:
    items = []
    for row in rows:
        title, text = _text(row)
        hint = row.get("lang_hint") or None
        items.append((title, text, str(hint)[:2].lower() if hint else None))
    verdicts = context.screener.screen(items)
    for row, verdict in zip(rows, verdicts, strict=True):
        keep, reason = verdict.keep, verdict.reason
        scores = verdict.scores()
        feed_url = str(row.get("feed_url") or "")
        baseline = context.baselines(feed_url) if feed_url else None
        if baseline is not None:
            judgement = judge(baseline, verdict, context.screener.threshold)
            keep, reason = judgement.status == "kept", judgement.reason
            if judgement.note:
                scores["baseline"] = judgement.note
        decision = context.overrides.decide(str(row.get("id")), row.get("url"), feed_url)
        if decision == "allow":
            keep, reason = True, None
        elif decision == "deny":
            keep, reason = False, reason or "offtopic"
        if decision:
            scores["override"] = decision
        yield {
            "id": row.get("id"),
            "keep": keep,
            "reason": reason,
            "lang": verdict.lang,
            "tags": [t.topic for t in verdict.tags],
            "scores": scores,
        }


def read_rows(path: Path, required: tuple[str, ...] = ("id", "title")) -> Iterator[dict[str, Any]]:
    """JSON Lines, one object a line, each with the required keys; errors name the line."""
    from .errors import AggregatorError

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AggregatorError(f"{path}, line {number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or any(key not in row for key in required):
                raise AggregatorError(
                    f"{path}, line {number}: each line needs at least {' and '.join(required)}"
                )
            yield row


@dataclass(frozen=True)
class Evaluation:
    total: int
    by_expect: dict[str, Counter[str]]
    mistakes: list[tuple[dict[str, Any], dict[str, Any]]]

    def rate(self, expect: str, dropped: bool) -> float:
        counts = self.by_expect.get(expect, Counter())
        n = sum(counts.values())
        hit = sum(c for reason, c in counts.items() if (reason != "keep") == dropped)
        return hit / n if n else 1.0


def evaluate(rows: list[dict[str, Any]], context: LabelContext) -> Evaluation:
    by_expect: dict[str, Counter[str]] = {}
    mistakes = []
    for row, result in zip(rows, label_rows(rows, context), strict=True):
        expect = row["expect"]
        got = "keep" if result["keep"] else str(result["reason"])
        by_expect.setdefault(expect, Counter())[got] += 1
        wrong = (expect == "keep") != result["keep"]
        if wrong:
            mistakes.append((row, result))
    return Evaluation(len(rows), by_expect, mistakes)


@dataclass(frozen=True)
class TopicEvaluation:
    rows: int
    metrics: dict[str, tuple[int, float, float, float]]  # topic -> (support, P, R, F1)
    confusions: Counter[tuple[str, str]]  # (expected, given instead) pairs
    micro_f1: float
    # Over the topics every site needs (REQUIRED_TOPICS): the model's micro-F1, and that
    # of the taxonomy's keywords alone (a post gets a topic when it names a keyword).
    required_micro_f1: float = 0.0
    keyword_micro_f1: float = 0.0


def _counts(pairs: list[tuple[set[str], set[str]]], topic: str) -> tuple[int, int, int]:
    tp = sum(1 for want, got in pairs if topic in want and topic in got)
    fp = sum(1 for want, got in pairs if topic not in want and topic in got)
    fn = sum(1 for want, got in pairs if topic in want and topic not in got)
    return tp, fp, fn


def _micro_f1(pairs: list[tuple[set[str], set[str]]], topics: tuple[str, ...]) -> float:
    tp = fp = fn = 0
    for topic in topics:
        t, f, n = _counts(pairs, topic)
        tp, fp, fn = tp + t, fp + f, fn + n
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def evaluate_topics(rows: list[dict[str, Any]], screener: Screener) -> TopicEvaluation:
    """Per-topic precision, recall and F1 of the tags given to posts with known topics."""
    from .classify import REQUIRED_TOPICS

    model = screener.topics
    assert model is not None
    topics = model.topics
    items: list[tuple[str, str, str | None]] = [(*_text(row), "en") for row in rows]
    given = [{t.topic for t in verdict.tags} for verdict in screener.screen(items)]
    metrics = {}
    confusions: Counter[tuple[str, str]] = Counter()
    pairs = [(set(row["topics"]), got) for row, got in zip(rows, given, strict=True)]
    for topic in topics:
        tp, fp, fn = _counts(pairs, topic)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics[topic] = (tp + fn, precision, recall, f1)
    for row, got in zip(rows, given, strict=True):
        for missed in set(row["topics"]) - got:
            for extra in got - set(row["topics"]):
                confusions[(missed, extra)] += 1
    # The same text the model reads (title and lead, cut to TEXT_LIMIT).
    keyword_pairs = [
        (set(row["topics"]), model.keywords.topics_in(tokens(f"{title}\n{text}"[:TEXT_LIMIT])))
        for row, (title, text, _) in zip(rows, items, strict=True)
    ]
    required = tuple(t for t in REQUIRED_TOPICS if t in topics)
    return TopicEvaluation(
        len(rows),
        metrics,
        confusions,
        _micro_f1(pairs, topics),
        _micro_f1(pairs, required),
        _micro_f1(keyword_pairs, required),
    )
