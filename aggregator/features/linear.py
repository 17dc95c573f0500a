"""Linear models over the hashed features, stored as a JSON card and an .npz of plain
arrays (no pickle): read, checked against the features this version computes, and scored."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .hashing import FEATURE_VERSION, FeatureBatch, hashed
from .tokens import grams


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
