"""`aggregator label` and `aggregator evaluate`: the screening path on JSON Lines input.

Each input line has at least id, title and summary (optional feed_url, feed_title,
lang_hint). The text goes through the same steps as a fetched post: sanitizing, the
language, spam and model checks, the feed's baseline when the database knows the feed,
and the owner's overrides.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline import Baseline, Judgement, judge
from .features.tokens import tokens
from .langtags import primary_language
from .overrides import Overrides
from .sanitize import clean_html, plain_text
from .screen.text import leads, screening_text
from .screen.verdict import Screener, Verdict

BATCH = 512


@dataclass(frozen=True)
class LabelContext:
    screener: Screener
    baselines: Callable[[str], Baseline | None] = lambda _url: None
    overrides: Overrides = field(default_factory=Overrides)


def _text(row: dict[str, Any]) -> tuple[str, str]:
    """(title, lead) of a row, read as `aggregator update` reads a post: its summary is
    sanitized HTML or plain text, and the lead comes from it as a post's does."""
    title = plain_text(str(row.get("title") or ""))
    _teaser, lead = leads(clean_html(str(row.get("summary") or ""), None), "")
    return title, lead


def label_rows(rows: Iterable[dict[str, Any]], context: LabelContext) -> Iterator[dict[str, Any]]:
    """One result per row, in order. The whole input is read first: a feed's posts are
    judged with the feed's record (its other posts in the input, and its history when the
    database knows the feed), as `aggregator update` judges a fetched feed's posts."""
    rows = list(rows)
    verdicts: list[Verdict] = []
    for start in range(0, len(rows), BATCH):
        verdicts += _screen_batch(rows[start : start + BATCH], context)
    by_feed: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        feed_url = str(row.get("feed_url") or "")
        if feed_url:
            by_feed.setdefault(feed_url, []).append(i)
    judgements: dict[int, Judgement] = {}
    for url, members in by_feed.items():
        known = context.baselines(url)
        judged = context.screener.feed_record([verdicts[i] for i in members], known.record if known else None)
        for i, verdict in zip(members, judged, strict=True):
            verdicts[i] = verdict
        if known is None:
            continue
        # The feed's baseline moves with each post, in order, as update applies it: three
        # departures in a row put the feed into quarantine, and the posts after are held.
        for i in members:
            judgements[i] = judgement = judge(known, verdicts[i], context.screener.threshold)
            known = judgement.baseline
    for i, (row, verdict) in enumerate(zip(rows, verdicts, strict=True)):
        yield _result(row, verdict, judgements.get(i), context)


def _screen_batch(rows: list[dict[str, Any]], context: LabelContext) -> list[Verdict]:
    items = []
    for row in rows:
        title, text = _text(row)
        items.append((title, text, primary_language(row.get("lang_hint"))))
    return context.screener.screen(items)


def _result(
    row: dict[str, Any], verdict: Verdict, judgement: Judgement | None, context: LabelContext
) -> dict[str, Any]:
    keep, reason = verdict.keep, verdict.reason
    scores = verdict.scores()
    if judgement is not None:
        keep, reason = judgement.status == "kept", judgement.reason
        if judgement.note:
            scores["baseline"] = judgement.note
    decision = context.overrides.decide(str(row.get("id")), row.get("url"), str(row.get("feed_url") or ""))
    if decision == "allow":
        keep, reason = True, None
    elif decision == "deny":
        # The reason stays screening's own (null when screening kept the post): the
        # override dropped it, and scores["override"] says so.
        keep = False
    if decision:
        scores["override"] = decision
    return {
        "id": row.get("id"),
        "keep": keep,
        "reason": reason,
        "lang": verdict.lang,
        # The topics the post is published under: none when it is dropped (what the
        # tagger made of it stays in scores["topics"]).
        "tags": [t.topic for t in verdict.tags] if keep else [],
        "scores": scores,
    }


def read_rows(
    path: Path,
    required: tuple[str, ...] = ("id", "title"),
    check: Callable[[dict[str, Any]], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """JSON Lines, one object a line, each with the required keys (and passing check, which
    lists what is wrong with a row). Every line with a problem is named, not only the first,
    and no row is returned when any has one."""
    from .errors import AggregatorError

    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]  # as Windows tools save UTF-8
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(
                    f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                    f"{exc.start + 1} of the line); save the file as UTF-8"
                )
                continue
            if not line.strip():
                continue
            try:
                # Without its line ending: a line cut short is reported where it stops,
                # not at column 1 of a line after it.
                row = json.loads(line.rstrip("\r\n"), parse_constant=_no_constant, parse_float=_finite)
            except json.JSONDecodeError as exc:
                what = exc.msg.removesuffix(" at")  # "Invalid control character at"
                problems.append(f"line {number}: not valid JSON ({what} at column {exc.colno})")
                continue
            except ValueError as exc:
                huge = "int_max_str_digits" in str(exc)  # Python's guard on huge integers
                why = "a number of more than 4,300 digits; write it as a string" if huge else str(exc)
                problems.append(f"line {number}: {why}")
                continue
            needs = f"each line is one JSON object with at least {', '.join(required)}"
            if not isinstance(row, dict):
                problems.append(f"line {number}: {json_type(row)}, not an object; {needs}")
                continue
            missing = [key for key in required if key not in row]
            if missing:
                problems.append(f"line {number}: no {', '.join(missing)}; {needs}")
                continue
            found = check(row) if check is not None else []
            problems += [f"line {number}: {problem}" for problem in found]
            rows.append({key: _whole_characters(value) for key, value in row.items()})
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise AggregatorError(f"{path}: {len(problems)} problem(s); fix them and run again:\n{listed}")
    return rows


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON has no NaN or Infinity); write a number or a string")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large to be a number here; write it as a string")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_characters(value: Any) -> Any:
    """Text with each lone surrogate (a "\\ud800" escape, half of a character a tool cut)
    read as U+FFFD, as a fetched feed's is: no text Python cannot write out reaches the
    screener, the database or standard output."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_whole_characters(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_characters(v) for k, v in value.items()}
    return value


def json_type(value: object) -> str:
    """What a JSON value is, in the words of the JSON it came from."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# What a row of `aggregator label` needs; summary, feed_url, feed_title and lang_hint are
# optional (a row with no summary is judged on its title, and a note says how many were).
# The rule for everything else: a row a person would call well formed is labelled, never
# refused. Only what cannot be a post is (an id that is null, a list or an object; a list
# or an object where text goes); numbers where text goes are read as text.
LABEL_FIELDS = ("id", "title")
LABEL_TEXT_FIELDS = ("title", "summary", "feed_url", "feed_title", "lang_hint")


def label_problems(row: dict[str, Any]) -> list[str]:
    """What makes a row of `aggregator label`'s input no post: an id that is not a string
    or a number, a list or an object where text goes."""
    problems = []
    post_id = row["id"]
    if isinstance(post_id, bool) or not isinstance(post_id, str | int | float) or post_id == "":
        what = "an empty string" if post_id == "" else json_type(post_id)
        problems.append(f'"id" is {what}; give each post an id such as "post-1" (a string or a number)')
    for key in LABEL_TEXT_FIELDS:
        value = row.get(key)
        if isinstance(value, list | dict):
            problems.append(f'"{key}" is {json_type(value)}; it must be a string (or null)')
    return problems


def label_notes(rows: list[dict[str, Any]]) -> list[str]:
    """What was read otherwise than a reader might expect, for standard error: rows with
    no summary, and lang_hint values that name no language (read as no hint)."""
    notes = []
    no_summary = [str(r["id"]) for r in rows if not str(r.get("summary") or "").strip()]
    if no_summary:
        notes.append(
            f"{len(no_summary)} row(s) have no summary (or an empty one) and were judged on their "
            "title alone "
            f"(first: {', '.join(no_summary[:3])})"
        )
    hints = [(str(r["id"]), r.get("lang_hint")) for r in rows]
    odd = [
        (post_id, hint)
        for post_id, hint in hints
        if hint is not None and str(hint).strip() and primary_language(hint) is None
    ]
    if odd:
        shown = ", ".join(f"{post_id}: {hint!r}" for post_id, hint in odd[:3])
        notes.append(
            f"{len(odd)} row(s) have a lang_hint that is no language code, read as no hint "
            f'(first: {shown}); write one such as "en", "en-US" or "de"'
        )
    return notes


EXPECT = ("keep", "offtopic", "spam", "non_english")


def evaluation_problems(
    topics: tuple[str, ...], expect: bool = True
) -> Callable[[dict[str, Any]], list[str]]:
    """What is wrong with a row of an evaluation set: an expect outside EXPECT (when the set
    has expect), topics that are not a list of the taxonomy's names."""

    def check(row: dict[str, Any]) -> list[str]:
        problems = []
        if expect and row["expect"] not in EXPECT:
            problems.append(f'"expect" is {json.dumps(row["expect"])}; it must be one of {", ".join(EXPECT)}')
        if "topics" in row:
            given = row["topics"]
            if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
                problems.append(
                    f'"topics" is {json_type(given)}; it must be a list of topic names such as ["bgp"]'
                )
            elif unknown := sorted(set(given) - set(topics)):
                problems.append(
                    f'"topics" names {", ".join(unknown)}, no topic of models/topics.yaml; '
                    f"the topics are {', '.join(topics)}"
                )
        return problems

    return check


@dataclass(frozen=True)
class ScreeningFigures:
    """The figures a screening is judged by, on the English and foreign posts of a set."""

    dropped: int  # English networking posts dropped
    networking: int  # English networking posts
    foreign_kept: int  # posts in other languages kept
    foreign: int
    offtopic_precision: float  # of dropping English off-topic and spam posts
    offtopic_recall: float

    @property
    def offtopic_f1(self) -> float:
        p, r = self.offtopic_precision, self.offtopic_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def screening_figures(rows: list[dict[str, Any]], kept: list[bool]) -> ScreeningFigures:
    pairs = list(zip((row["expect"] for row in rows), kept, strict=True))
    networking = [k for e, k in pairs if e == "keep"]
    foreign = [k for e, k in pairs if e == "non_english"]
    other = [k for e, k in pairs if e in ("offtopic", "spam")]
    caught = sum(1 for k in other if not k)
    dropped_networking = sum(1 for k in networking if not k)
    precision = caught / (caught + dropped_networking) if caught + dropped_networking else 1.0
    recall = caught / len(other) if other else 1.0
    return ScreeningFigures(
        dropped_networking, len(networking), sum(foreign), len(foreign), precision, recall
    )


@dataclass(frozen=True)
class Evaluation:
    total: int
    by_expect: dict[str, Counter[str]]
    mistakes: list[tuple[dict[str, Any], dict[str, Any]]]
    figures: ScreeningFigures
    baseline: ScreeningFigures  # a plain keyword list's
    by_class: dict[str, tuple[int, int]]  # class -> (right, rows)
    topics: TopicEvaluation | None  # on the kept-expected rows that carry topics


def keyword_baseline(rows: list[dict[str, Any]], screener: Screener) -> list[tuple[bool, set[str]]]:
    """What a plain keyword list does with each row: (kept, topics). Kept when langdetect
    says English (or cannot tell) and the text names a term of the team's keyword list
    (the lexicon's core list and the taxonomy's keywords); topics are the taxonomy's
    keywords found."""
    from .screen.language import _probabilities

    assert screener.topics is not None
    keywords = screener.topics.keywords
    core = {e.key for e in screener.lexicon.entries.values() if "team list" in e.source}
    out = []
    for row in rows:
        title, text = _text(row)
        screened = screening_text(title, text)
        words = tokens(screened)
        found = _probabilities(screened)
        english = not found or found[0][0] == "en"
        named = keywords.topics_in(words)
        joined = f" {' '.join(words)} "
        listed = bool(named) or any(f" {key} " in joined for key in core)
        out.append((english and listed, named))
    return out


def evaluate(rows: list[dict[str, Any]], context: LabelContext) -> Evaluation:
    by_expect: dict[str, Counter[str]] = {}
    by_class: dict[str, list[int]] = {}
    mistakes = []
    results = list(label_rows(rows, context))
    for row, result in zip(rows, results, strict=True):
        expect = row["expect"]
        got = "keep" if result["keep"] else str(result["reason"])
        by_expect.setdefault(expect, Counter())[got] += 1
        wrong = (expect == "keep") != result["keep"]
        counts = by_class.setdefault(str(row.get("class") or expect), [0, 0])
        counts[0] += int(not wrong)
        counts[1] += 1
        if wrong:
            mistakes.append((row, result))
    baseline = keyword_baseline(rows, context.screener)
    tagged = [i for i, row in enumerate(rows) if row["expect"] == "keep" and "topics" in row]
    topics = None
    if tagged and context.screener.topics is not None:
        topics = topic_evaluation(
            [(set(rows[i]["topics"]), set(results[i]["tags"])) for i in tagged],
            [(set(rows[i]["topics"]), baseline[i][1]) for i in tagged],
            context.screener.topics.topics,
        )
    return Evaluation(
        len(rows),
        by_expect,
        mistakes,
        screening_figures(rows, [bool(r["keep"]) for r in results]),
        screening_figures(rows, [kept for kept, _ in baseline]),
        {name: (right, n) for name, (right, n) in sorted(by_class.items())},
        topics,
    )


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
    keyword_metrics: dict[str, tuple[int, float, float, float]] = field(default_factory=dict)


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


def _per_topic(
    pairs: list[tuple[set[str], set[str]]], topics: tuple[str, ...]
) -> dict[str, tuple[int, float, float, float]]:
    metrics = {}
    for topic in topics:
        tp, fp, fn = _counts(pairs, topic)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics[topic] = (tp + fn, precision, recall, f1)
    return metrics


def topic_evaluation(
    pairs: list[tuple[set[str], set[str]]],
    keyword_pairs: list[tuple[set[str], set[str]]],
    topics: tuple[str, ...],
) -> TopicEvaluation:
    """Per-topic precision, recall and F1 of (wanted, given) topic pairs, beside those of
    the taxonomy's keywords alone."""
    from .topics.model import REQUIRED_TOPICS

    confusions: Counter[tuple[str, str]] = Counter()
    for want, got in pairs:
        for missed in want - got:
            for extra in got - want:
                confusions[(missed, extra)] += 1
    required = tuple(t for t in REQUIRED_TOPICS if t in topics)
    return TopicEvaluation(
        len(pairs),
        _per_topic(pairs, topics),
        confusions,
        _micro_f1(pairs, topics),
        _micro_f1(pairs, required),
        _micro_f1(keyword_pairs, required),
        _per_topic(keyword_pairs, topics),
    )


def evaluate_topics(rows: list[dict[str, Any]], screener: Screener) -> TopicEvaluation:
    """Per-topic precision, recall and F1 of the tags given to posts with known topics."""
    model = screener.topics
    assert model is not None
    items: list[tuple[str, str, str | None]] = [(*_text(row), "en") for row in rows]
    given = [{t.topic for t in verdict.tags} for verdict in screener.screen(items)]
    pairs = [(set(row["topics"]), got) for row, got in zip(rows, given, strict=True)]
    # The same text the model reads (title and lead, cut to TEXT_LIMIT).
    keyword_pairs = [
        (set(row["topics"]), model.keywords.topics_in(tokens(screening_text(title, text))))
        for row, (title, text, _) in zip(rows, items, strict=True)
    ]
    return topic_evaluation(pairs, keyword_pairs, model.topics)
