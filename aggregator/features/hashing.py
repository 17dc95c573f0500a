"""Hashed word 1-2-gram features and the linear models stored over them (no pickle)."""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tokens import Remembered

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
