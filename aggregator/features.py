"""Hashed word 1-2-gram features and the linear models stored over them (no pickle)."""

from __future__ import annotations

import itertools
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .tokens import Remembered, grams

# v4: the lexicon's concept tokens follow each post's words and pairs.
FEATURE_VERSION = "crc32-words12-concepts-v4"

_word_hash = Remembered(lambda word: zlib.crc32(word.encode())).__getitem__
_PAIR = np.uint64(1_000_003)
_PAIR_SALT = np.uint64(0x9E3779B97F4A7C15)


def gram_indices(
    words: list[str], n_features: int, extras: list[str] | tuple[str, ...] = ()
) -> np.ndarray[Any, Any]:
    """Hashed feature index of every word, word pair and extra, in order (words first,
    then pairs, then extras: concept tokens the lexicon adds, which pair with nothing).

    A pair's hash is computed from its two words' hashes with NumPy, so only the words
    are hashed one by one: most of the cost of featurising in Python.
    """
    h = np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))
    pairs = (h[:-1] * _PAIR + h[1:]) ^ _PAIR_SALT
    e = np.fromiter(map(_word_hash, extras), dtype=np.uint64, count=len(extras))
    return np.concatenate([h, pairs, e]) % np.uint64(n_features)


Features = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def hashed(words: list[str], n_features: int, extras: list[str] | tuple[str, ...] = ()) -> Features:
    """(feature indices, weights): each gram counts 1/sqrt(number of grams).

    Indices may repeat; a repeated gram adds up (in scoring, and in the sparse matrix
    training builds). Scaling by the square root of the length keeps long and short
    posts comparable without counting first.
    """
    n = (2 * len(words) - 1 if words else 0) + len(extras)
    if not n:
        return np.empty(0, dtype=np.int64), np.empty(0)
    index = gram_indices(words, n_features, extras).astype(np.int64)
    return index, np.full(len(index), 1.0 / math.sqrt(n))


@dataclass(frozen=True)
class FeatureBatch:
    """hashed() of several posts at once, concatenated: post i owns the grams
    bounds[i]:bounds[i + 1] (its words, its word pairs, then its extras, as hashed() lays
    them out).

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


def _hashes(token_lists: list[list[str]]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(tokens per list, the hash of every token in order)."""
    counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    words = list(itertools.chain.from_iterable(token_lists))
    return counts, np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))


def hashed_batch(
    token_lists: list[list[str]], n_features: int, extras: list[list[str]] | None = None
) -> FeatureBatch:
    """hashed() of every token list (and its extras), in one pass: the same indices and
    weights."""
    counts, h = _hashes(token_lists)
    word_grams = np.where(counts > 0, 2 * counts - 1, 0)
    if extras is not None:
        extra_counts, extra_h = _hashes(extras)
    else:
        extra_counts, extra_h = np.zeros(len(counts), dtype=np.int64), np.empty(0, dtype=np.uint64)
    grams_per_post = word_grams + extra_counts
    bounds = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(grams_per_post, out=bounds[1:])
    out = np.empty(int(bounds[-1]), dtype=np.uint64)
    owner = np.repeat(np.arange(len(counts)), counts)  # the post of every word
    position = np.arange(len(h)) - (np.cumsum(counts) - counts)[owner]  # a word's place in its post
    out[bounds[:-1][owner] + position] = h
    # A pair starts at every word but its post's last one.
    starts = np.flatnonzero(position < counts[owner] - 1)
    pair_owner = owner[starts]
    out[bounds[:-1][pair_owner] + counts[pair_owner] + position[starts]] = (
        h[starts] * _PAIR + h[starts + 1]
    ) ^ _PAIR_SALT
    if len(extra_h):
        extra_owner = np.repeat(np.arange(len(counts)), extra_counts)
        extra_position = np.arange(len(extra_h)) - (np.cumsum(extra_counts) - extra_counts)[extra_owner]
        out[bounds[:-1][extra_owner] + word_grams[extra_owner] + extra_position] = extra_h
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
        # float32, as stored: the weights live in every parser process.
        return cls(card=card, coef=coef.astype(np.float32), intercept=float(intercept.reshape(-1)[0]))

    def log_odds(self, batch: FeatureBatch) -> np.ndarray[Any, Any]:
        """The text model's log-odds for every post of a batch."""
        result: np.ndarray[Any, Any] = batch.sums(self.coef[batch.index]) + self.intercept
        return result

    def terms(self, words: list[str], extras: tuple[str, ...] = (), top: int = 8) -> list[tuple[str, float]]:
        """The grams (and concept tokens) that moved the score most, with their contribution."""
        index, weight = hashed(words, self.n_features, extras)
        positions = index.tolist()  # in the order of grams(words), then the extras
        by_index: dict[int, float] = {}
        for position, value in zip(positions, weight.tolist(), strict=True):
            by_index[position] = by_index.get(position, 0.0) + value
        seen: dict[str, float] = {}
        for gram, position in zip(grams(words) + list(extras), positions, strict=True):
            seen[gram] = float(self.coef[position]) * by_index[position]
        out = sorted(seen.items(), key=lambda item: -abs(item[1]))
        return out[:top]
