"""A pretrained sentence encoder beside the topic tagger: does it read a post's subject better?

Not a test: it prints figures and exits 0. bench/encoder_trial.py asked the real-posts
issue's encoder question of the screener; this asks it of the tags, the figure furthest
from its target. It trains, per topic, a logistic regression on all-MiniLM-L6-v2 sentence
embeddings (int8 ONNX, on the CPU) of the topic corpus, and blends its log-odds into the
tagger's last-stage probability with a weight and a threshold chosen out of fold on the
training corpus (`train.fit_topics`'s out-of-fold predictions), never on evaluation data.

    .venv/bin/python bench/encoder_tags_trial.py [--file EVAL.jsonl ...]

It reports, on each evaluation file (default: the realistic set and both topic sets),
micro-F1 over the four main topics and over all 13 for the tagger as it is, the encoder
alone and the blend, and the encoder's speed and memory. The packages it needs are those
of bench/encoder_trial.py, installed the same way on first use.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import encoder_trial  # noqa: E402  (the encoder and its packages)

from aggregator.label import _text, read_rows  # noqa: E402
from aggregator.screen.text import screening_text  # noqa: E402
from aggregator.screen.verdict import Screener  # noqa: E402
from aggregator.topics.model import REQUIRED_TOPICS  # noqa: E402
from aggregator.train import best_f1_thresholds, corpus_text, fit_topics  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)  # of the encoder's log-odds in the blend
C_GRID = (1.0, 4.0, 16.0)


def logit(p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    result: np.ndarray[Any, Any] = np.log(p / (1 - p))
    return result


def best_f1(p: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(best F1, its threshold), by the grid train_topics chooses thresholds on."""
    threshold, _, _, _, f1 = best_f1_thresholds(p, y, np.ones(len(y), dtype=bool))
    return f1, threshold


def micro_f1(pred: np.ndarray[Any, Any], truth: np.ndarray[Any, Any], columns: list[int]) -> float:
    p, y = pred[:, columns], truth[:, columns] == 1
    tp, fp, fn = (p & y).sum(), (p & ~y).sum(), (~p & y).sum()
    return float(2 * tp / max(1, 2 * tp + fp + fn))


def tagger_probabilities(screener: Screener, texts: list[str], titles: list[str]) -> np.ndarray[Any, Any]:
    """The tagger's last-stage probability of every topic, before its thresholds."""
    assert screener.topics is not None
    reading, batch = screener.read(texts, titles)
    return screener.topics.probabilities(batch, reading)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--file", action="append", type=Path, help="evaluation set with topics (repeatable)")
    args = parser.parse_args()
    encoder_trial.ensure_packages()
    from sklearn.linear_model import LogisticRegression

    fit = fit_topics()
    topics, truth = fit.topics, fit.truth
    main_columns = [topics.index(t) for t in REQUIRED_TOPICS]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    encoder = encoder_trial.Encoder(threads=1)
    started = time.process_time()
    X = encoder.embed([corpus_text(row) for row in fit.posts])
    per_post = (time.process_time() - started) / len(fit.posts)
    memory = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"encoder: {1 / per_post:.0f} posts/s on one core, +{memory:.0f} MB peak\n")

    print(f"{'topic':<14} out of fold: tagger  encoder  blend (weight)")
    chosen = []
    for j, topic in enumerate(topics):
        y = truth[:, j]
        best: tuple[float, float, np.ndarray[Any, Any]] | None = None
        for c in C_GRID:
            oof = np.zeros(len(y))
            for train_rows, test_rows in fit.folds:
                lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
                oof[test_rows] = lr.fit(X[train_rows], y[train_rows]).decision_function(X[test_rows])
            f1 = best_f1(1 / (1 + np.exp(-oof)), y)[0]
            if best is None or f1 > best[0]:
                best = (f1, c, oof)
        assert best is not None
        encoder_f1, c, oof = best
        blends = [(best_f1(1 / (1 + np.exp(-(logit(fit.stacked[:, j]) + w * oof))), y), w) for w in WEIGHTS]
        (blend_f1, threshold), weight = max(blends)
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(X, y)
        encoder_threshold = best_f1(1 / (1 + np.exp(-oof)), y)[1]
        chosen.append((model, weight, threshold, encoder_threshold))
        print(
            f"{topic:<14} {best_f1(fit.stacked[:, j], y)[0]:>19.3f}  {encoder_f1:>7.3f}  "
            f"{blend_f1:.3f} ({weight:g})"
        )

    screener = Screener.load()
    assert screener.topics is not None
    thresholds = screener.topics.low
    data = ROOT / "models" / "data"
    files = args.file or [
        data / "eval_realistic.jsonl",
        data / "topics_eval.jsonl",
        data / "topics_eval_long.jsonl",
    ]
    print(f"\n{'file':<28} {'posts':>5}   four main: tagger encoder blend   all 13: tagger encoder blend")
    for path in files:
        rows = [r for r in read_rows(path) if r.get("expect", "keep") == "keep" and "topics" in r]
        pairs = [_text(r) for r in rows]
        texts = [screening_text(title, lead) for title, lead in pairs]
        y = np.array([[1 if t in r["topics"] else 0 for t in topics] for r in rows])
        ours = tagger_probabilities(screener, texts, [title for title, _ in pairs])
        E = encoder.embed(texts)
        alone = np.column_stack([m.predict_proba(E)[:, 1] >= et for m, _, _, et in chosen])
        blended = np.column_stack(
            [
                1 / (1 + np.exp(-(logit(ours[:, j]) + w * m.decision_function(E)))) >= t
                for j, (m, w, t, _) in enumerate(chosen)
            ]
        )
        tagger = ours >= thresholds
        every = list(range(len(topics)))
        print(
            f"{path.name[:28]:<28} {len(rows):>5}   "
            f"{micro_f1(tagger, y, main_columns):>16.3f} {micro_f1(alone, y, main_columns):.3f} "
            f"{micro_f1(blended, y, main_columns):.3f}   "
            f"{micro_f1(tagger, y, every):>13.3f} {micro_f1(alone, y, every):.3f} "
            f"{micro_f1(blended, y, every):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
