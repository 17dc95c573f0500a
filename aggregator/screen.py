"""Screening: keep English networking posts; drop other languages, spam and off-topic posts.

Pure functions over a post's text, so the same code serves `aggregator update` (in the
parser workers) and `aggregator label`. The decision, in order:

1. language: langdetect (seeded) on title + text; short or unsure text does not decide
   alone, the feed's declared or usual language does, and the reason says so;
2. spam signals: gambling and lottery vocabulary, spam trades, link-farm repetition;
3. the trained model: probability that the post is about networking or cloud-native
   infrastructure, against a threshold chosen on held-out data.

Per-feed baselines (drift, quarantine) need the feed's history and live in baseline.py.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from json.encoder import encode_basestring as _json_str  # C; ensure_ascii=False
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .cards import MODEL_DIR as MODEL_DIR
from .errors import ModelError as ModelError
from .types import StoredVerdict as StoredVerdict

if TYPE_CHECKING:
    from .classify import Tag, TopicModel

TEXT_LIMIT = 400  # characters of title + text screened: enough to decide, cheap to run

# -- language -------------------------------------------------------------------------

# Function words: frequent in any English prose, rare in other languages' (and never
# technical terms), so their share tells English apart quickly and without guessing.
ENGLISH_WORDS = frozenset(
    """a about after all also an and are as at be because been but by can could did do does
    for from had has have how if in into is it its just more most my new no not of on one
    only or our out over should so some than that the their them then there these they this
    to up us was we were what when where which while who why will with would you your""".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
MIN_WORDS = 8  # fewer ordinary words than this: too short for a language to be told
MIN_CONFIDENCE = 0.90
ENGLISH_SHARE = 0.12  # share of English function words above which text is English


@dataclass(frozen=True)
class Language:
    lang: str
    confidence: float
    probabilities: dict[str, float]
    decided_by: str  # "function words", "langdetect", "feed language", "feed usual language"


def _ordinary_words(text: str) -> list[str]:
    # Acronyms (BGP, OSPF) say nothing about the language.
    return [w for w in _WORD.findall(text) if not w.isupper() and len(w) > 1]


@lru_cache(maxsize=1)
def _langdetect() -> Any:
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0  # langdetect samples at random: a fixed seed, same answers
    init_factory()
    from langdetect.detector_factory import _factory

    return _factory


ENGLISH_VOCABULARY_SHARE = 0.7  # share of words from the English corpus vocabulary


def detect_language(
    text: str,
    fallback: str | None,
    fallback_kind: str = "feed language",
    vocabulary: frozenset[str] = frozenset(),
    lowered: list[str] | None = None,
) -> Language:
    """The language of text; short or unsure text defers to the fallback (the feed's).

    Two cheap checks come before langdetect (which costs about 2 ms a post): the share of
    English function words, and the share of words that the team's English corpus uses
    (so terse technical English without function words needs no guessing either).
    """
    if lowered is None:
        lowered = [w.lower() for w in _ordinary_words(text)]
    words = lowered
    if len(words) >= MIN_WORDS:
        share = sum(map(ENGLISH_WORDS.__contains__, lowered)) / len(words)
        if share >= ENGLISH_SHARE:
            return Language("en", 1.0, {"en": 1.0}, "function words")
        if vocabulary and sum(map(vocabulary.__contains__, lowered)) / len(words) >= ENGLISH_VOCABULARY_SHARE:
            return Language("en", 1.0, {"en": 1.0}, "English vocabulary")
        found = _probabilities(text)
        probabilities = dict(found)
        if found and found[0][1] >= MIN_CONFIDENCE:
            return Language(found[0][0], found[0][1], probabilities, "langdetect")
        if fallback:
            return Language(fallback, 0.0, probabilities, f"{fallback_kind} (langdetect unsure)")
        if found:
            return Language(found[0][0], found[0][1], probabilities, "langdetect")
    elif words:
        # Short text. Mostly English words ("Kubernetes Gateway API", "OSPF vs IS-IS"):
        # langdetect would guess wildly, so the feed decides. Mostly words English does
        # not use ("Prediksi togel hari ini"): langdetect decides if it is sure.
        known = sum(1 for w in lowered if w in vocabulary or w in ENGLISH_WORDS)
        if vocabulary and known / len(words) <= 0.5:
            found = _probabilities(text)
            english = dict(found).get("en", 0.0)
            # Most words are not English and langdetect does not see English either.
            if found and found[0][0] != "en" and found[0][1] >= 0.5 and english < 0.1:
                return Language(found[0][0], found[0][1], dict(found), "langdetect (short text)")
    if fallback:
        return Language(fallback, 0.0, {}, f"{fallback_kind} (text too short to tell)")
    return Language("und", 0.0, {}, "text too short to tell")


def _probabilities(text: str) -> list[tuple[str, float]]:
    detector = _langdetect().create()
    detector.append(text)
    try:
        found = detector.get_probabilities()
    except Exception:  # langdetect raises when it finds no features at all
        return []
    return [(p.lang.split("-")[0], round(p.prob, 4)) for p in found]


# -- spam signals ----------------------------------------------------------------------

# Each term is a documented signal; see README "Screening". Two distinct terms, or one
# strong term, make a post spam.
STRONG_SPAM = frozenset(
    """togel paito slot gacor judi bandar toto sgp hk prediksi jitu angka keluaran maxwin
    bocoran rtp pragmatic sbobet casino casinos sportsbook bookmaker bookmakers betting jackpot
    jackpots viagra cialis payday""".split()
)
SPAM_PHRASES = (
    "free spins",
    "bonus code",
    "no deposit",
    "online slots",
    "online slot",
    "slot online",
    "live draw",
    "result hk",
    "result sgp",
    "keluaran hk",
    "keluaran sgp",
    "data sgp",
    "data hk",
    "lottery results",
    "lottery prediction",
    "winning numbers",
    "essay writing service",
    "write my essay",
    "buy followers",
    "buy instagram",
    "buy backlinks",
    "guest post service",
    "crypto giveaway",
    "airdrop",
    "double your",
    "100x",
    "pump signal",
    "weight loss pills",
    "online pharmacy",
    "without prescription",
    "cheap pills",
    "loan approval",
    "bad credit loan",
    "click here",
    "download crack",
    "free download crack",
    "keygen",
    "serial key",
)
_SPAM_SEQUENCES = {tuple(p.split()) for p in SPAM_PHRASES}
_SPAM_FIRST = {p[0] for p in _SPAM_SEQUENCES}


def spam_signals(text: str, words: list[str] | None = None, present: set[str] | None = None) -> list[str]:
    """The spam signals found in text, as short labels for the reason and explain.
    words: tokens(text), present: set(words), when the caller has them."""
    words = tokens(text) if words is None else words
    # Set operations first: most posts have none of the terms, and those run in C.
    signals = [f"term:{w}" for w in sorted(STRONG_SPAM.intersection(words))]
    if not _SPAM_FIRST.isdisjoint(words):
        found: set[str] = set()
        for i, word in enumerate(words):
            if word in _SPAM_FIRST:
                found.update(
                    " ".join(seq) for seq in _SPAM_SEQUENCES if tuple(words[i : i + len(seq)]) == seq
                )
        signals += sorted(f"phrase:{p}" for p in found)
    # Link farms repeat their keyword: one content word making a quarter of a long text.
    # No word at all repeated five times (the usual case): no need to look closer. Fewer
    # than four repeats in all, and no word can be.
    repeats = len(words) - len(set(words) if present is None else present)
    if len(words) >= 12 and repeats >= 4 and Counter(words).most_common(1)[0][1] >= 5:
        content = [w for w in words if len(w) > 3 and w not in ENGLISH_WORDS]
        if len(content) >= 12:
            word, count = Counter(content).most_common(1)[0]
            if count >= 5 and count / len(content) >= 0.25:
                signals.append(f"repetition:{word}x{count}")
    if text.lower().count("http") >= 6:
        signals.append("links:many")
    return signals


def is_spam(signals: list[str]) -> bool:
    strong = [s for s in signals if s.startswith("term:")]
    return len(signals) >= 2 or any(s.split(":", 1)[1] in STRONG_SPAM for s in strong)


# -- the model --------------------------------------------------------------------------


TOKEN = re.compile(r"(?u)[\w][\w.\-/]*\w|\w")
FEATURE_VERSION = "crc32-words12-v3"
# The same patterns for ASCII text, where they match the same and run faster.
_TOKEN_ASCII = re.compile(r"[\w][\w.\-/]*\w|\w", re.ASCII)
_WORD_ASCII = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


# Typeset text writes "IS-IS" with a non-breaking hyphen and splits long words with soft
# hyphens or zero-width spaces: read as the plain hyphen, and as nothing.
_HYPHENS = str.maketrans(
    {
        **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212"), "-"),
        **dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff")),
    }
)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; dots, dashes and slashes inside a word stay (802.1x, is-is)."""
    if text.isascii():
        return _TOKEN_ASCII.findall(text.lower())
    return TOKEN.findall(text.translate(_HYPHENS).lower())


def tokens_with_case(text: str) -> tuple[list[str], list[str]]:
    """(tokens(text), the ordinary words for language checks, lower-cased)."""
    ascii_only = text.isascii()
    if not ascii_only:
        text = text.translate(_HYPHENS)
    words = (_WORD_ASCII if ascii_only else _WORD).findall(text)
    ordinary = [w.lower() for w in words if len(w) > 1 and not w.isupper()]
    return (_TOKEN_ASCII if ascii_only else TOKEN).findall(text.lower()), ordinary


def grams(words: list[str]) -> list[str]:
    """Words and word pairs: the model's features before hashing."""
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


_V = TypeVar("_V")


class Remembered(dict[str, _V]):
    """compute(key), remembered for up to `limit` keys: words repeat across posts, and a
    lookup costs a fraction of the work. Bounded, so a flood of unique tokens cannot
    grow it. Look up with [] (or map(remembered.__getitem__, keys), all in C)."""

    def __init__(self, compute: Callable[[str], _V], limit: int = 10_000) -> None:
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, key: str) -> _V:
        value = self.compute(key)
        if len(self) < self.limit:
            self[key] = value
        return value


_word_hash = Remembered(lambda word: zlib.crc32(word.encode())).__getitem__
_PAIR = np.uint64(1_000_003)
_PAIR_SALT = np.uint64(0x9E3779B97F4A7C15)


def gram_indices(words: list[str], n_features: int) -> np.ndarray[Any, Any]:
    """Hashed feature index of every word and word pair, in order (words first).

    A pair's hash is computed from its two words' hashes with NumPy, so only the words
    are hashed one by one: most of the cost of featurising in Python.
    """
    h = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    pairs = (h[:-1] * _PAIR + h[1:]) ^ _PAIR_SALT
    return np.concatenate([h, pairs]) % np.uint64(n_features)


Features = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def hashed(words: list[str], n_features: int) -> Features:
    """(feature indices, weights): each gram counts 1/sqrt(number of grams).

    Indices may repeat; a repeated gram adds up (in scoring, and in the sparse matrix
    training builds). Scaling by the square root of the length keeps long and short
    posts comparable without counting first.
    """
    if not words:
        return np.empty(0, dtype=np.int64), np.empty(0)
    index = gram_indices(words, n_features).astype(np.int64)
    return index, np.full(len(index), 1.0 / math.sqrt(len(index)))


@dataclass(frozen=True)
class FeatureBatch:
    """hashed() of several posts at once, concatenated: post i owns the grams
    bounds[i]:bounds[i + 1] (its words, then its word pairs, as hashed() lays them out).

    Scoring a feed's posts together costs a few NumPy calls instead of a few per post.
    """

    index: np.ndarray[Any, Any]  # (grams,) int64 feature indices
    weight: np.ndarray[Any, Any]  # (grams,) 1/sqrt(the post's number of grams)
    bounds: np.ndarray[Any, Any]  # (posts + 1,) offsets into index

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def post(self, i: int) -> Features:
        start, end = int(self.bounds[i]), int(self.bounds[i + 1])
        return self.index[start:end], self.weight[start:end]

    def sums(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per post, the weighted sum of per-gram values ((grams,) or (grams, k))."""
        weighted = values * (self.weight if values.ndim == 1 else self.weight[:, None])
        result: np.ndarray[Any, Any] = np.zeros((len(self), *weighted.shape[1:]), dtype=np.float64)
        starts = self.bounds[:-1]
        filled = self.bounds[1:] > starts
        if filled.any():
            # Each post's grams run from its start to the next filled post's.
            result[filled] = np.add.reduceat(weighted, starts[filled], axis=0)
        return result


def hashed_batch(token_lists: list[list[str]], n_features: int) -> FeatureBatch:
    """hashed() of every token list, in one pass: the same indices and weights."""
    counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    words = list(itertools.chain.from_iterable(token_lists))
    h = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    grams_per_post = np.where(counts > 0, 2 * counts - 1, 0)
    bounds = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(grams_per_post, out=bounds[1:])
    owner = np.repeat(np.arange(len(counts)), counts)  # the post of every word
    first_word = np.cumsum(counts) - counts
    position = np.arange(len(words)) - first_word[owner]  # a word's place in its post
    out = np.empty(int(bounds[-1]), dtype=np.uint64)
    out[bounds[:-1][owner] + position] = h
    # A pair starts at every word but its post's last one.
    starts = np.flatnonzero(position < counts[owner] - 1)
    pair_owner = owner[starts]
    out[bounds[:-1][pair_owner] + counts[pair_owner] + position[starts]] = (
        h[starts] * _PAIR + h[starts + 1]
    ) ^ _PAIR_SALT
    index = (out % np.uint64(n_features)).astype(np.int64)
    weight = np.repeat(1.0 / np.sqrt(np.maximum(grams_per_post, 1)), grams_per_post)
    return FeatureBatch(index, weight, bounds)


def read_model(
    stem: Path, expected_shape: Callable[[dict[str, Any]], tuple[int, ...]]
) -> tuple[dict[str, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(card, weights, intercept) of a model stored as STEM.json + STEM.npz (no pickle),
    refused with a clear message when missing, damaged or made for other features."""
    card_path, array_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        with np.load(array_path, allow_pickle=False) as arrays:
            coef, intercept = arrays["coef"], arrays["intercept"]
    except FileNotFoundError as exc:
        raise ModelError(f"{exc.filename}: the trained model is missing; run `aggregator train`") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{stem}: cannot read the model ({exc}); run `aggregator train`") from exc
    kind = card.get("features", {}).get("kind")
    if kind != FEATURE_VERSION:
        raise ModelError(
            f"{card_path}: model {card.get('version')} uses features '{kind}', this version of "
            f"the aggregator computes '{FEATURE_VERSION}'; run `aggregator train`"
        )
    try:
        expected = tuple(int(n) for n in expected_shape(card))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{card_path}: incomplete card ({exc}); run `aggregator train`") from exc
    if coef.shape != expected:
        raise ModelError(f"{array_path}: weights do not match the card; run `aggregator train`")
    return card, coef, intercept


@dataclass(frozen=True)
class LinearTextModel:
    """A linear model over hashed word 1-2-grams, stored as plain arrays (no pickle).

    Hashing needs no vocabulary, and a linear model is one weight per hashed feature, so
    the whole model is a card (JSON) and one array (.npz). Scoring needs only NumPy, so
    a run does not load scikit-learn (which `aggregator train` uses).
    """

    card: dict[str, Any]
    coef: np.ndarray[Any, Any]  # (n_features,)
    intercept: float

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def n_features(self) -> int:
        return int(self.card["features"]["n_features"])

    @classmethod
    def load(cls, stem: Path) -> LinearTextModel:
        card, coef, intercept = read_model(
            stem, expected_shape=lambda card: (card["features"]["n_features"],)
        )
        return cls(card=card, coef=coef.astype(np.float64), intercept=float(intercept.reshape(-1)[0]))

    def probability_of(self, words: list[str], features: Features | None = None) -> float:
        index, weight = features or hashed(words, self.n_features)
        z = float(self.coef[index] @ weight) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def probabilities(self, batch: FeatureBatch) -> np.ndarray[Any, Any]:
        """probability_of() for every post of a batch."""
        z = batch.sums(self.coef[batch.index]) + self.intercept
        result: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))
        return result

    def probability(self, texts: list[str]) -> list[float]:
        return [self.probability_of(tokens(text)) for text in texts]

    def terms(self, text: str, top: int = 8) -> list[tuple[str, float]]:
        """The grams of text that moved the score most, with their contribution."""
        words = tokens(text)
        index, weight = hashed(words, self.n_features)
        by_index: dict[int, float] = {}
        for position, value in zip(index.tolist(), weight.tolist(), strict=True):
            by_index[position] = by_index.get(position, 0.0) + value
        seen: dict[str, float] = {}
        positions = gram_indices(words, self.n_features).tolist()
        for gram, position in zip(grams(words), positions, strict=True):
            seen[gram] = float(self.coef[position]) * by_index[position]
        out = sorted(seen.items(), key=lambda item: -abs(item[1]))
        return out[:top]


# -- the verdict --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str | None  # None, "non_english", "spam", "offtopic" (feed_drift: baseline.py)
    lang: str
    lang_note: str
    lang_probabilities: dict[str, float]
    score: float  # probability of networking content
    signals: tuple[str, ...]
    model_version: str
    evidence: tuple[str, ...] = ()  # networking terms found
    tags: tuple[Tag, ...] = ()  # topics, when a topic model is loaded

    def scores(self) -> dict[str, Any]:
        return {
            "networking": round(self.score, 4),
            "language": self.lang_probabilities,
            "language_decided_by": self.lang_note,
            "signals": list(self.signals),
            "networking_terms": list(self.evidence),
            "topics": {t.topic: round(t.score, 4) for t in self.tags},
        }

    def stored(self) -> StoredVerdict:
        """The verdict as the store keeps it: made in the parser workers, where the
        JSON costs the run's own process nothing and a few strings travel back instead
        of dozens of small objects."""
        return StoredVerdict(
            keep=self.keep,
            reason=self.reason,
            lang=self.lang,
            score=self.score,
            model_version=self.model_version,
            scores_json=self.scores_json(),
            tags_json=self.tags_json(),
            topics=tuple((t.topic, round(t.score, 4)) for t in self.tags),
        )

    # The JSON columns. The tags are written out directly (json.dumps of the list of
    # small dicts cost half as much again); the text is json.dumps's, which a test
    # holds it to.

    def scores_json(self) -> str:
        return json.dumps(self.scores(), ensure_ascii=False, sort_keys=True)

    def tags_json(self) -> str:
        if not all(math.isfinite(t.score) for t in self.tags):
            return json.dumps([t.as_dict() for t in self.tags], ensure_ascii=False)
        return (
            "["
            + ", ".join(
                f'{{"topic": {_json_str(t.topic)}, "score": {round(t.score, 4)!r}, '
                f'"terms": {_json_strs(t.terms)}}}'
                for t in self.tags
            )
            + "]"
        )


def _json_strs(values: Iterable[str]) -> str:
    return "[" + ", ".join(map(_json_str, values)) + "]"


@lru_cache(maxsize=8)
def _phrase_starts(phrases: frozenset[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    starts: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted(phrases):  # sorted: a frozenset's order changes from run to run
        starts.setdefault(phrase[0], []).append(phrase)
    return starts


@dataclass(frozen=True)
class Lexicon:
    """Networking terms (models/networking_terms.txt): evidence a post is about networking."""

    words: frozenset[str]
    phrases: frozenset[tuple[str, ...]]

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the networking terms ({exc})") from exc
        return cls.from_terms(
            [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]
        )

    @classmethod
    def from_terms(cls, terms: list[str]) -> Lexicon:
        # Terms are matched on tokens(): split them the same way.
        # Single letters ("s" from "router's") would match almost anything: never terms.
        split = [tuple(tokens(t)) for t in terms if len(t.strip()) > 1]
        return cls(
            frozenset(t[0] for t in split if len(t) == 1),
            frozenset(t for t in split if len(t) > 1),
        )

    def hits(self, words: list[str], present: set[str] | None = None) -> list[str]:
        """The terms found in a token list (from tokens()); present: set(words), when
        the caller has it."""
        present = set(words) if present is None else present
        # A plural counts as its singular: "transceivers", "trunks", "cidrs". The set
        # intersection (in C) tells whether any word is a term at all.
        matched = present & self._matchable
        found = [t for t in words if t in matched] if matched else []
        starts = self._starts
        if not present.isdisjoint(starts):
            for i, word in enumerate(words):
                if word in starts:
                    found += [" ".join(p) for p in starts[word] if tuple(words[i : i + len(p)]) == p]
        return found

    @cached_property
    def _matchable(self) -> frozenset[str]:
        """The terms' words, and their plurals."""
        return self.words | {word + "s" for word in self.words}

    @property
    def _starts(self) -> dict[str, list[tuple[str, ...]]]:
        return _phrase_starts(self.phrases)


@dataclass(frozen=True)
class Screener:
    model: LinearTextModel
    lexicon: Lexicon
    vocabulary: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ("en",)
    topics: TopicModel | None = None  # tags posts too, from the same tokens

    @property
    def threshold(self) -> float:
        """Networking probability needed when the post names networking terms."""
        return float(self.model.card["threshold"])

    @property
    def strong(self) -> float:
        """Networking probability needed when it names none."""
        return float(self.model.card["strong_threshold"])

    @classmethod
    def load(
        cls, languages: tuple[str, ...] = ("en",), model_dir: Path = MODEL_DIR, topics: bool = True
    ) -> Screener:
        vocabulary_path = model_dir / "english_words.txt"
        try:
            vocabulary = frozenset(vocabulary_path.read_text(encoding="utf-8").split())
        except OSError as exc:
            raise ModelError(f"{vocabulary_path}: missing ({exc}); run `aggregator train`") from exc
        lexicon = Lexicon.load(model_dir / "networking_terms.txt")
        # langdetect is loaded on first use only (80 MB of profiles): most English posts
        # never need it. Networking terms count as English words: "eigrp" or "wireshark"
        # say nothing about another language.
        from .classify import TopicModel

        return cls(
            LinearTextModel.load(model_dir / "screen"),
            lexicon,
            vocabulary | lexicon.words,
            languages,
            TopicModel.load(model_dir) if topics else None,
        )

    def on_topic(self, score: float, evidence: list[str]) -> bool:
        return score >= self.strong or (bool(evidence) and score >= self.threshold)

    def screen(self, items: list[tuple[str, str, str | None]]) -> list[Verdict]:
        """Verdicts for (title, text, feed language or None) triples, in order."""
        texts = [f"{title}\n{text}"[:TEXT_LIMIT] for title, text, _ in items]
        tokenized = [tokens_with_case(text) for text in texts]
        token_lists = [t for t, _ in tokenized]
        # Hashed once, for all posts together: the screening and topic models share the
        # feature space.
        batch = hashed_batch(token_lists, self.model.n_features)
        scores = self.model.probabilities(batch).tolist()
        presents = [set(words) for words in token_lists]
        if self.topics:
            # Tagging reads what screening reads. 1500 characters find more topics that
            # long posts name late, but cost more than a first run can afford
            # (bench/README.md, "Topic text length").
            keywords = self.topics.keywords
            found = [keywords.hits(w, p) for w, p in zip(token_lists, presents, strict=True)]
            tags = self.topics.tag_batch(token_lists, batch, found)
        else:
            tags = [[] for _ in items]
        out = []
        default = self.languages[0]
        for (_title, _text, hint), text, (words, ordinary), present, score, post_tags in zip(
            items, texts, tokenized, presents, scores, tags, strict=True
        ):
            if hint:
                language = detect_language(text, hint, vocabulary=self.vocabulary, lowered=ordinary)
            else:  # nothing known of the feed: the site's own language is the fallback
                language = detect_language(text, default, "site language", self.vocabulary, ordinary)
            signals = tuple(spam_signals(text, words, present))
            evidence = self.lexicon.hits(words, present)
            if language.lang not in self.languages:
                reason: str | None = "non_english"
            elif is_spam(list(signals)):
                reason = "spam"
            elif not self.on_topic(score, evidence):
                reason = "offtopic"
            else:
                reason = None
            out.append(
                Verdict(
                    keep=reason is None,
                    reason=reason,
                    lang=language.lang,
                    lang_note=language.decided_by,
                    lang_probabilities=language.probabilities,
                    score=float(score),
                    signals=signals,
                    evidence=tuple(dict.fromkeys(evidence))[:10],
                    tags=tuple(post_tags),
                    model_version=self.model.version,
                )
            )
        return out
