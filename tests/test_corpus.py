"""The corpus: training posts stay clear of the evaluation sets, and labels are well formed."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

from aggregator.cards import MODEL_DIR
from aggregator.topics.taxonomy import load_taxonomy

DATA = MODEL_DIR / "data"
WORD = re.compile(r"\w+")


def rows(pattern: str) -> list[dict[str, object]]:
    return [json.loads(line) for path in sorted(DATA.glob(pattern)) for line in path.open() if line.strip()]


def shingles(row: dict[str, object], n: int = 4) -> set[tuple[str, ...]]:
    words = WORD.findall(f"{row.get('title') or ''} {row.get('summary') or ''}".lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_no_training_post_is_close_to_an_evaluation_post() -> None:
    """Nothing close to an evaluation item is trained on: no training post has an
    evaluation post's title, or shares a third of its 4-word runs with one."""
    evaluation = rows("eval_*.jsonl") + rows("topics_eval*.jsonl")
    titles = {str(r["title"]).strip().lower() for r in evaluation if str(r["title"]).strip()}
    index: dict[tuple[str, ...], set[int]] = defaultdict(set)
    sizes = []
    for i, row in enumerate(evaluation):
        grams = shingles(row)
        sizes.append(len(grams))
        for gram in grams:
            index[gram].add(i)
    close = []
    for row in rows("train_*.jsonl") + rows("topics_train_*.jsonl"):
        if str(row["title"]).strip().lower() in titles:
            close.append((row["id"], "same title"))
            continue
        grams = shingles(row)
        shared = Counter(j for gram in grams for j in index.get(gram, ()))
        close += [
            (row["id"], evaluation[j]["id"])
            for j, count in shared.items()
            if count >= max(1, min(len(grams), sizes[j])) / 3
        ]
    assert close == []


def test_labels_are_what_the_trainer_and_evaluate_read() -> None:
    topics = {t.name for t in load_taxonomy()}
    for row in rows("train_realistic_*.jsonl"):
        assert row["label"] in ("networking", "offtopic", "spam", "non_english"), row["id"]
        assert set(row.get("topics", [])) <= topics and (row["label"] == "networking" or not row["topics"])
        assert (row["lang"] == "en") == (row["label"] != "non_english"), row["id"]
    realistic = rows("eval_realistic.jsonl")
    assert len(realistic) >= 600
    assert {r["expect"] for r in realistic} == {"keep", "offtopic", "spam", "non_english"}
    classes = Counter(str(r["class"]) for r in realistic)
    for name in ("named-by-software", "near-miss", "spam-word-in-context", "foreign-script", "tag-boundary"):
        assert classes[name] >= 30, name
    assert len({r["id"] for r in realistic}) == len(realistic)


def test_the_realistic_training_set_is_large_and_half_of_it_names_no_keyword_early() -> None:
    new = rows("train_realistic_*.jsonl")
    assert len(new) >= 3000
    networking = [r for r in new if r["label"] == "networking"]
    assert sum(1 for r in networking if not r.get("kw_in_opening")) >= 0.4 * len(networking)


def test_every_row_has_its_own_id() -> None:
    """An id names one row across all sets: a mistake listed by `aggregator evaluate` or a
    row kept out of training must point at one post, not at a training and an evaluation row."""
    ids = Counter(str(r["id"]) for r in rows("*.jsonl"))
    assert [i for i, n in ids.items() if n > 1] == []
