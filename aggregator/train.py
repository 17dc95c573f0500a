"""`aggregator train`: fit the screening model on the team's corpus, deterministically.

The corpus is models/data/train_*.jsonl (JSON Lines with title, summary and label:
networking, offtopic or spam). The model is a logistic regression over hashed word
n-grams, written as a JSON card and a .npz array (loaded with allow_pickle=False).
The decision threshold is chosen on out-of-fold predictions, never on the evaluation set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .cards import MODEL_DIR
from .errors import AggregatorError
from .features.hashing import FEATURE_VERSION, hashed
from .label import read_rows
from .screen.text import TEXT_LIMIT, screening_text
from .screen.verdict import STACK_FEATURES, stack_features
from .topics.lexicon import Found, Lexicon
from .topics.reading import Reading, read_posts

N_FEATURES = 2**18
MAX_NETWORKING_DROPPED = 0.01  # the threshold keeps at least 99% of networking posts
FOLDS = 5
# The screening model's out-of-fold figures pool several shuffles of the folds. With one
# shuffle, its seed alone moved the thresholds by up to 0.2 (0.22 to 0.42 for posts that
# name no networking word, whose few dozen networking examples decide it), so a change to
# the corpus could not be told from the luck of the split.
SCREEN_FOLD_SEEDS = (0, 1, 2, 3, 4)


def library_versions() -> dict[str, str]:
    """What trained a model, for its card."""
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__}


# Characters of a corpus post the topic model learns from: more than tagging reads at run
# time (TEXT_LIMIT), so the long posts of the corpus teach the vocabulary of their later
# paragraphs too. Measured on both evaluation sets: as good as or better than learning
# from the first TEXT_LIMIT characters alone (bench/README.md, "Topic text length").
TOPIC_TRAINING_CHARS = 1500


def corpus_text(row: dict[str, Any], limit: int = TEXT_LIMIT) -> str:
    """What the screener reads of a corpus row (its title and summary, which are plain
    text, cut as a post's are)."""
    return screening_text(str(row.get("title") or ""), str(row.get("summary") or ""), limit)


def load_corpus(data_dir: Path, salt: bytes = b"") -> tuple[list[dict[str, Any]], str]:
    """The English rows of models/data/train_*.jsonl labelled networking, offtopic or spam,
    and a digest of the files. (Rows in other languages teach the language rules, which are
    not trained: the screening model reads English only.)"""
    files = sorted(data_dir.glob("train_*.jsonl"))
    if not files:
        raise AggregatorError(f"{data_dir}: no train_*.jsonl files to train on")
    digest = hashlib.sha256(salt)
    rows = []
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for row in read_rows(path, required=("title",)):
            if row.get("label") in ("networking", "offtopic", "spam") and row.get("lang", "en") == "en":
                rows.append(row)
    return rows, digest.hexdigest()


def lexicon_digest(directory: Path) -> bytes:
    """The lexicon's files and the taxonomy beside them (whose keywords join the lexicon),
    for a model's data hash: they shape the features."""
    digest = hashlib.sha256()
    for path in [*sorted(directory.glob("*.tsv")), directory.parent / "topics.yaml"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def read_texts(lexicon: Lexicon, rows: list[dict[str, Any]], limit: int = TEXT_LIMIT) -> Reading:
    """What the models read of each corpus row, as the screener reads a post at run time."""
    texts = [corpus_text(row, limit) for row in rows]
    return read_posts(lexicon, texts, [str(row.get("title") or "") for row in rows])


def feature_matrix(
    token_lists: list[list[str]], extras: list[list[str]], ignore: frozenset[str] = frozenset()
) -> Any:
    """The same hashed features the screener computes at run time, as a sparse matrix.

    ignore: words that are no evidence alone; a word of them, or a pair of two of them,
    counts 0 (it still counts in the length a gram's weight is scaled by, as at run time).
    """
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, (words, extra) in enumerate(zip(token_lists, extras, strict=True)):
        index, weight = hashed(words, N_FEATURES, extra)
        if ignore and len(words):
            idle = [w in ignore for w in words]
            idle += [a and b for a, b in itertools.pairwise(idle)] + [False] * len(extra)
            weight = weight * ~np.array(idle)
        rows.append(np.full(len(index), row))
        cols.append(index)
        values.append(weight)
    return csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(token_lists), N_FEATURES),
    )


def nb_weights(X: Any, labels: np.ndarray[Any, Any], alpha: float) -> tuple[np.ndarray[Any, Any], float]:
    """Multinomial naive Bayes as a linear model: (weight per feature, bias).

    A feature that never occurs in the training texts gets weight 0: smoothing alone
    would give every unseen word the same pull towards the smaller class, so a post in
    vocabulary the corpus never saw (a recipe, a workout) would look like that class.
    """
    from sklearn.naive_bayes import MultinomialNB

    model = MultinomialNB(alpha=alpha).fit(X, labels)
    weights = model.feature_log_prob_[1] - model.feature_log_prob_[0]
    seen = np.asarray(X.sum(axis=0)).ravel() > 0
    weights = np.where(seen, weights, 0.0)
    bias = float(model.class_log_prior_[1] - model.class_log_prior_[0])
    return weights, bias


def lr_weights(X: Any, labels: np.ndarray[Any, Any], c: float) -> tuple[np.ndarray[Any, Any], float]:
    """Logistic regression as (weight per feature, bias)."""
    model = _balanced_lr(c).fit(X, labels)
    return model.coef_[0], float(model.intercept_[0])


def evidence_levels(found: list[Found]) -> np.ndarray[Any, Any]:
    """Per post: 2 when it names settled networking names, 1 when only ambiguous ones, 0
    when no networking word at all (Screener.needed uses the same levels)."""
    return np.array([2 if f.networking else 1 if f.ambiguous else 0 for f in found])


def choose_thresholds(
    scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], levels: np.ndarray[Any, Any]
) -> tuple[tuple[float, float, float], float, float]:
    """((threshold with networking names, with ambiguous words only, with none), kept,
    caught) on held-out scores: the thresholds that catch the most other posts while
    keeping 99% of networking ones, a post that names more needing no more than one that
    names less."""
    grid = np.round(np.arange(0.02, 1.0, 0.02), 2)
    networking, other = labels == 1, labels == 0
    # Per level and threshold: networking posts kept, other posts caught.
    kept = [[int(np.sum(networking & (levels == level) & (scores >= t))) for t in grid] for level in range(3)]
    caught = [[int(np.sum(other & (levels == level) & (scores < t))) for t in grid] for level in range(3)]
    need = (1 - MAX_NETWORKING_DROPPED) * networking.sum()
    best: tuple[tuple[int, int, int], int, int] = ((0, 0, 0), int(networking.sum()), -1)
    for i2 in range(len(grid)):
        for i1 in range(i2, len(grid)):
            for i0 in range(i1, len(grid)):
                k = kept[2][i2] + kept[1][i1] + kept[0][i0]
                c = caught[2][i2] + caught[1][i1] + caught[0][i0]
                if k >= need and c > best[2]:
                    best = ((i2, i1, i0), k, c)
    (i2, i1, i0), k, c = best
    return (
        (float(grid[i2]), float(grid[i1]), float(grid[i0])),
        k / max(1, int(networking.sum())),
        max(0, c) / max(1, int(other.sum())),
    )


# The screening models tried, each with its settings: chosen by what matters, off-topic
# caught at 99% of networking kept, on out-of-fold predictions.
SCREEN_MODELS: tuple[tuple[str, float], ...] = (
    ("nb", 0.03),
    ("nb", 0.1),
    ("nb", 0.3),
    ("lr", 1.0),
    ("lr", 4.0),
    ("lr", 16.0),
)


def _fit(
    kind: str, X: Any, labels: np.ndarray[Any, Any], setting: float
) -> tuple[np.ndarray[Any, Any], float]:
    return nb_weights(X, labels, setting) if kind == "nb" else lr_weights(X, labels, setting)


STACK_C = 1.0


def _sigmoid(z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    result: np.ndarray[Any, Any] = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
    return result


def train_screening(
    data_dir: Path = MODEL_DIR / "data",
    out_dir: Path = MODEL_DIR,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    from .topics.taxonomy import load_lexicon

    rows, data_hash = load_corpus(data_dir, lexicon_digest(out_dir / "lexicon"))
    labels = np.array([1 if row["label"] == "networking" else 0 for row in rows])
    lexicon = load_lexicon(out_dir)
    reading = read_texts(lexicon, rows)
    token_lists, found, extras = reading.words, reading.found, reading.concepts
    levels = evidence_levels(found)
    card: dict[str, Any] = {"features": {"kind": FEATURE_VERSION, "n_features": N_FEATURES}}
    X = feature_matrix(token_lists, extras)
    shuffles = [
        list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(X, labels))
        for seed in SCREEN_FOLD_SEEDS
    ]

    # First the text model, chosen by what matters: other posts caught at 99% of
    # networking kept, on out-of-fold predictions. Each shuffle gives every post one
    # out-of-fold prediction; the figures pool the shuffles, each post counted once per
    # shuffle, so a prediction keeps the spread a model's has on a post it never saw
    # (an average of several would not).
    times = len(shuffles)
    pooled_labels, pooled_levels = np.tile(labels, times), np.tile(levels, times)
    best: tuple[str, float, float, list[np.ndarray[Any, Any]]] | None = None
    for kind, setting in SCREEN_MODELS:
        oofs = []
        for folds in shuffles:
            oof = np.zeros(len(labels))
            for train_rows, test_rows in folds:
                fold_coef, fold_intercept = _fit(kind, X[train_rows], labels[train_rows], setting)
                oof[test_rows] = X[test_rows] @ fold_coef + fold_intercept
            oofs.append(oof)
        _, kept, caught = choose_thresholds(_sigmoid(np.concatenate(oofs)), pooled_labels, pooled_levels)
        echo(f"  {kind} {setting:g}: out-of-fold {kept:.1%} networking kept, {caught:.1%} other caught")
        if best is None or caught > best[2]:
            best = (kind, setting, caught, oofs)
    assert best is not None
    kind, setting, _, oof_log_odds = best

    # Then the stage that weighs the text model's log-odds against what the lexicon found
    # (networking names, ambiguous ones, general-computing names), trained on the text
    # model's out-of-fold log-odds so that it learns how far to trust them on unseen posts.
    from sklearn.linear_model import LogisticRegression

    denses = [
        np.array([stack_features(z, f, len(w)) for z, f, w in zip(oof, found, token_lists, strict=True)])
        for oof in oof_log_odds
    ]
    stacked = []
    for folds, dense in zip(shuffles, denses, strict=True):
        shuffle_stacked = np.zeros(len(labels))
        for train_rows, test_rows in folds:
            meta = LogisticRegression(C=STACK_C, random_state=0).fit(dense[train_rows], labels[train_rows])
            shuffle_stacked[test_rows] = meta.predict_proba(dense[test_rows])[:, 1]
        stacked.append(shuffle_stacked)
    (threshold, ambiguous, strong), kept, caught = choose_thresholds(
        np.concatenate(stacked), pooled_labels, pooled_levels
    )
    echo(f"  with the lexicon's evidence: out-of-fold {kept:.1%} networking kept, {caught:.1%} other caught")
    # The last stage itself is fitted on one shuffle's log-odds: fitted on all five (each
    # post five times, with less regularization in effect) it scored real networking posts
    # 0.03-0.04 lower, and three of the private sets' fell below their threshold.
    meta = LogisticRegression(C=STACK_C, random_state=0).fit(denses[0], labels)

    weights, bias = _fit(kind, X, labels, setting)
    coef = weights.astype(np.float32)
    intercept = np.array([bias], dtype=np.float32)
    version = f"screen-{data_hash[:10]}-{kind}{setting:g}"
    card.update(
        {
            "version": version,
            "kind": "screening: networking vs off-topic",
            "trained": clock().isoformat(timespec="seconds"),
            "training_data_sha256": data_hash,
            "examples": {"networking": int(labels.sum()), "other": int(len(labels) - labels.sum())},
            "prior": round(float(labels.mean()), 4),
            "model": "multinomial naive Bayes" if kind == "nb" else "logistic regression",
            "setting": setting,
            "stack": {
                "features": list(STACK_FEATURES),
                "coef": [round(float(c), 6) for c in meta.coef_[0]],
                "intercept": round(float(meta.intercept_[0]), 6),
            },
            "threshold": round(threshold, 6),
            "ambiguous_threshold": round(ambiguous, 6),
            "strong_threshold": round(strong, 6),
            "out_of_fold": {"networking_kept": round(kept, 4), "offtopic_caught": round(caught, 4)},
            "versions": library_versions(),
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "screen.npz", coef=coef, intercept=intercept)
    # The words of the posts' prose (spam excepted) as the screener reads them at run time.
    prose = [words for words, row in zip(reading.ordinary, rows, strict=True) if row["label"] != "spam"]
    vocabulary = sorted({w for words in prose for w in words})
    (out_dir / "english_words.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    (out_dir / "screen.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    echo(
        f"screening model {version}: thresholds {threshold:.2f} / {ambiguous:.2f} / {strong:.2f}; "
        f"out-of-fold {kept:.1%} of networking kept, {caught:.1%} of the rest caught"
    )
    return card


# Function words, as tokens() splits them ("don't" is "don" and "t"): no evidence of a
# topic by themselves, nor is a pair of them ("and the").
# The topic model learns no weight for them, so a corpus whose vendor posts say "your"
# and "our" more often does not teach it that "your" means BGP, and explanations name
# content words.
FUNCTION_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been
    before being below between both but by can could couldn d did didn do does doesn doing
    don down during each few for from further had has have having he her here hers herself
    him himself his how i if in into is isn it its itself just ll m may me might more most
    must my myself no nor not now of off on once only or other our ours ourselves out over
    own re s same she should shouldn so some such t than that the their theirs them
    themselves then there these they this those through to too under until up ve very was
    wasn we were weren what when where which while who whom why will with won would wouldn
    you your yours yourself yourselves
    """.split()
)

TOPIC_C_GRID = (2.0, 8.0, 32.0)


def load_topic_corpus(
    data_dir: Path, topics: tuple[str, ...], extra: list[dict[str, Any]] | None = None, salt: bytes = b""
) -> tuple[list[dict[str, Any]], np.ndarray[Any, Any], str]:
    """Rows and a (posts x topics) 0/1 matrix from topics_train_*.jsonl and the English
    networking rows of train_*.jsonl that carry topics, plus extra rows (the owner's
    corrected posts)."""
    files = sorted(data_dir.glob("topics_train_*.jsonl"))
    digest = hashlib.sha256(salt)
    posts, rows = [], []
    for path in files + sorted(data_dir.glob("train_*.jsonl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for row in read_rows(path, required=("title",), check=lambda row: topic_problems(row, topics)):
            if (
                "topics" not in row
                or row.get("label", "networking") != "networking"
                or row.get("lang", "en") != "en"
            ):
                continue
            posts.append(row)
            rows.append([1 if t in row["topics"] else 0 for t in topics])
    for row in extra or []:
        digest.update(json.dumps(row, sort_keys=True).encode())
        posts.append(row)
        rows.append([1 if t in row["topics"] else 0 for t in topics])
    if not posts:
        raise AggregatorError(
            f"{data_dir}: no posts with topics to train on (topics_train_*.jsonl, train_*.jsonl)"
        )
    return posts, np.array(rows), digest.hexdigest()


def topic_problems(row: dict[str, Any], topics: tuple[str, ...]) -> list[str]:
    """What is wrong with a training row's topics (nothing when it has no topics key): they
    must be a list of the taxonomy's topic names."""
    if "topics" not in row:
        return []
    value = row["topics"]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        return [f'topics must be a list of topic names, such as ["bgp"], not {json.dumps(value)[:60]}']
    unknown = sorted(set(value) - set(topics))
    if unknown:
        return [f"unknown topic(s) {', '.join(unknown)}; the topics are those of models/topics.yaml"]
    return []


def check_topic_corpus(data_dir: Path = MODEL_DIR / "data", out_dir: Path = MODEL_DIR) -> None:
    """Read the topic training data and raise on any row it cannot use, before anything
    is trained or written (the screening model is written first)."""
    from .topics.taxonomy import load_taxonomy

    load_topic_corpus(data_dir, tuple(t.name for t in load_taxonomy(out_dir / "topics.yaml")))


def best_f1_thresholds(
    scores: np.ndarray[Any, Any],
    truth: np.ndarray[Any, Any],
    evidence: np.ndarray[Any, Any],
) -> tuple[float, float, float, float, float]:
    """(threshold with keywords, threshold without, precision, recall, F1) that maximise F1
    on held-out scores."""
    best = (0.5, 0.5, 0.0, 0.0, 0.0)
    grid = np.round(np.arange(0.02, 0.99, 0.02), 2)
    positives = float(truth.sum())
    for low in grid:
        for high in grid[grid >= low]:
            predicted = (scores >= high) | (evidence & (scores >= low))
            tp = float(np.sum(predicted & (truth == 1)))
            precision = tp / max(1.0, float(predicted.sum()))
            recall = tp / max(1.0, positives)
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            if f1 > best[4]:
                best = (float(low), float(high), precision, recall, f1)
    return best


def _balanced_lr(c: float) -> Any:
    """The logistic regression both text models use (screening's "lr" kind, each topic's)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, solver="liblinear", class_weight="balanced", random_state=0)


def _fit_topic(
    X: Any, y: np.ndarray[Any, Any], evidence: np.ndarray[Any, Any], folds: list[tuple[Any, Any]]
) -> tuple[float, np.ndarray[Any, Any], np.ndarray[Any, Any], float]:
    """One topic's text model: (C chosen by out-of-fold F1, the out-of-fold log-odds,
    the weights and intercept fitted on every post). BLAS runs on one thread, as it does
    in joblib's workers, so the model is the same bit for bit whatever the number of cores."""
    from threadpoolctl import threadpool_limits

    best: tuple[float, float, np.ndarray[Any, Any]] | None = None
    with threadpool_limits(limits=1):
        for c in TOPIC_C_GRID:
            oof = np.zeros(len(y))
            for train_rows, test_rows in folds:
                model = _balanced_lr(c).fit(X[train_rows], y[train_rows])
                oof[test_rows] = model.decision_function(X[test_rows])
            f1 = best_f1_thresholds(_sigmoid(oof), y, evidence)[4]
            if best is None or f1 > best[1]:
                best = (c, f1, oof)
        assert best is not None
        final = _balanced_lr(best[0]).fit(X, y)
    return best[0], best[2], final.coef_[0].astype(np.float32), float(final.intercept_[0])


@dataclass(frozen=True)
class TopicFit:
    """The topic models fitted on a corpus, with their out-of-fold predictions: what
    train_topics writes, and what a bench can compare another tagger against."""

    topics: tuple[str, ...]
    posts: list[dict[str, Any]]
    truth: np.ndarray[Any, Any]  # (posts, topics) 0/1
    data_hash: str
    strong: dict[str, list[str]]  # each topic's strong keywords
    chosen_c: dict[str, float]
    coef: np.ndarray[Any, Any]  # (N_FEATURES, topics) the text models' weights
    intercept: np.ndarray[Any, Any]  # (topics,)
    features: np.ndarray[Any, Any]  # (posts, topics, TOPIC_STACK_FEATURES), out of fold
    stacked: np.ndarray[Any, Any]  # (posts, topics) the last stage's out-of-fold probabilities
    folds: list[tuple[Any, Any]]


def fit_topics(
    data_dir: Path = MODEL_DIR / "data",
    out_dir: Path = MODEL_DIR,
    corrected: list[dict[str, Any]] | None = None,
) -> TopicFit:
    """Each topic's text model (its C chosen by out-of-fold F1), and the last stage's
    out-of-fold probabilities over the text models' out-of-fold log-odds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    from .topics.keywords import strong_in, strong_keywords, strong_map
    from .topics.model import topic_features
    from .topics.taxonomy import load_lexicon, load_taxonomy

    taxonomy = load_taxonomy(out_dir / "topics.yaml")
    topics = tuple(t.name for t in taxonomy)
    posts, truth, data_hash = load_topic_corpus(
        data_dir, topics, corrected, lexicon_digest(out_dir / "lexicon")
    )
    lexicon = load_lexicon(out_dir, taxonomy)
    reading = read_texts(lexicon, posts, TOPIC_TRAINING_CHARS)
    token_lists, lexicon_found, extras = reading.words, reading.found, reading.concepts
    X = feature_matrix(token_lists, extras, ignore=FUNCTION_WORDS)
    hits = [f.topic_keys for f in lexicon_found]
    found = [set(f.topics) for f in lexicon_found]
    strong = strong_keywords(hits, truth, topics)
    column = {t: j for j, t in enumerate(topics)}
    strong_by_keyword = strong_map(strong)
    strong_cols = [strong_in(strong_by_keyword, h, column) for h in hits]
    folds = list(KFold(n_splits=FOLDS, shuffle=True, random_state=0).split(X))

    # First each topic's text model, its C chosen by out-of-fold F1: the topics are
    # independent, so they are fitted on every core (the same fits, in any order).
    coef = np.zeros((N_FEATURES, len(topics)), dtype=np.float32)
    intercept = np.zeros(len(topics), dtype=np.float32)
    oof_log_odds = np.zeros(truth.shape)
    chosen_c: dict[str, float] = {}
    for j, topic in enumerate(topics):
        if truth[:, j].sum() < FOLDS:
            raise AggregatorError(
                f"topic {topic}: only {int(truth[:, j].sum())} training examples; write more"
            )
    from joblib import Parallel, delayed

    fitted = Parallel(n_jobs=-1)(
        delayed(_fit_topic)(X, truth[:, j], np.array([topic in named for named in found]), folds)
        for j, topic in enumerate(topics)
    )
    for j, (topic, (c, oof, weights, bias)) in enumerate(zip(topics, fitted, strict=True)):
        chosen_c[topic], oof_log_odds[:, j] = c, oof
        coef[:, j], intercept[j] = weights, bias

    # Then the last stage, per topic, on the text models' out-of-fold log-odds: how far to
    # trust them beside the keywords, the title and the post's share of the topic's terms.
    features = topic_features(topics, oof_log_odds, strong_cols, reading)
    stacked = np.zeros(truth.shape)
    for j in range(len(topics)):
        y = truth[:, j]
        for train_rows, test_rows in folds:
            meta = LogisticRegression(C=STACK_C, random_state=0).fit(features[train_rows, j], y[train_rows])
            stacked[test_rows, j] = meta.predict_proba(features[test_rows, j])[:, 1]
    return TopicFit(
        topics, posts, truth, data_hash, strong, chosen_c, coef, intercept, features, stacked, folds
    )


def choose_second_share(
    stacked: np.ndarray[Any, Any], truth: np.ndarray[Any, Any], low: np.ndarray[Any, Any]
) -> tuple[float, dict[float, float]]:
    """The share of the main topic's probability a second topic needs
    (topics.model.SECOND_TOPIC_SHARES), chosen by out-of-fold micro-F1 over every topic
    (the site shows all of them); a tie goes to the smaller share. Also each share's
    micro-F1, and the micro-F1 without the rule (0)."""
    from .topics.model import SECOND_TOPIC_SHARES, given

    wanted = truth.astype(bool)
    micro = {}
    for share in (0.0, *SECOND_TOPIC_SHARES):  # 0: without the rule, for the record
        got = given(stacked, low, share)
        tp = int((got & wanted).sum())
        wrong = int((got ^ wanted).sum())
        micro[share] = 2 * tp / (2 * tp + wrong) if tp else 0.0
    best = max(SECOND_TOPIC_SHARES, key=lambda share: (round(micro[share], 6), -share))
    return best, micro


def train_topics(
    data_dir: Path = MODEL_DIR / "data",
    out_dir: Path = MODEL_DIR,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    echo: Callable[[str], None] = print,
    corrected: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One logistic regression per topic; each threshold maximises out-of-fold F1.

    corrected: posts whose topics the owner corrected, folded into the training data."""
    from sklearn.linear_model import LogisticRegression

    from .topics.model import TOPIC_STACK_FEATURES

    fit = fit_topics(data_dir, out_dir, corrected)
    topics, truth, features = fit.topics, fit.truth, fit.features
    thresholds, metrics = {}, {}
    stack_coef: dict[str, list[float]] = {}
    stack_intercept: dict[str, float] = {}
    for j, topic in enumerate(topics):
        y = truth[:, j]
        everywhere = np.ones(len(y), dtype=bool)
        threshold, _, precision, recall, f1 = best_f1_thresholds(fit.stacked[:, j], y, everywhere)
        meta = LogisticRegression(C=STACK_C, random_state=0).fit(features[:, j], y)
        stack_coef[topic] = [round(float(w), 6) for w in meta.coef_[0]]
        stack_intercept[topic] = round(float(meta.intercept_[0]), 6)
        thresholds[topic] = {"with_keywords": threshold, "without": threshold}
        metrics[topic] = {
            "examples": int(y.sum()),
            "C": fit.chosen_c[topic],
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
        echo(
            f"  {topic:<12} {int(y.sum()):>4} examples  out-of-fold "
            f"P {precision:.2f} R {recall:.2f} F1 {f1:.2f}"
        )
    share, micro = choose_second_share(
        fit.stacked, truth, np.array([thresholds[t]["with_keywords"] for t in topics])
    )
    echo(
        f"  a second topic needs {share:g} of the main one's probability: out-of-fold micro-F1 "
        f"{micro[0.0]:.4f} without the rule, {micro[share]:.4f} with it"
    )
    data_hash, strong, coef, intercept = fit.data_hash, fit.strong, fit.coef, fit.intercept
    card = {
        "version": f"topics-{data_hash[:10]}",
        "kind": "topic tagging, one logistic regression per topic",
        "trained": clock().isoformat(timespec="seconds"),
        "training_data_sha256": data_hash,
        "corrections_folded_in": len(corrected or []),
        "features": {"kind": FEATURE_VERSION, "n_features": N_FEATURES},
        "topics": list(topics),
        "thresholds": thresholds,
        "second_topic_share": share,
        "second_topic_share_micro_f1": {f"{k:g}": round(v, 4) for k, v in micro.items()},
        "strong_keywords": strong,
        "stack": {"features": list(TOPIC_STACK_FEATURES), "coef": stack_coef, "intercept": stack_intercept},
        "out_of_fold": metrics,
        "versions": library_versions(),
    }
    np.savez_compressed(out_dir / "topics.npz", coef=coef, intercept=intercept)
    (out_dir / "topics.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    echo(f"topic model {card['version']}: {len(topics)} topics")
    return card
