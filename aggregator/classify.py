"""Topic tagging: multicast, BGP, IGP, Kubernetes and the rest of models/topics.yaml.

One linear model per topic over the same hashed word 1-2-grams the screener computes,
stored as plain data (a JSON card with the topic names and per-topic thresholds, and an
.npz with a weight matrix). A post gets every topic whose score clears that topic's
threshold, with the terms that contributed most.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .screen import FEATURE_VERSION, MODEL_DIR, Lexicon, ModelError, gram_indices, grams, hashed

TERMS_PER_TAG = 5


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    covers: str
    keywords: Lexicon
    exclude: tuple[tuple[str, ...], ...] = ()  # phrases whose words are not evidence

    def evidence(self, words: list[str]) -> list[str]:
        found = self.keywords.hits(words)
        for phrase in self.exclude:
            size = len(phrase)
            if any(tuple(words[i : i + size]) == phrase for i in range(len(words) - size + 1)):
                found = [f for f in found if f not in phrase and f != " ".join(phrase)]
        return found


def load_taxonomy(path: Path = MODEL_DIR / "topics.yaml") -> tuple[Topic, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return tuple(
            Topic(
                t["name"],
                t["description"],
                t["covers"],
                Lexicon.from_terms([str(k).lower() for k in t.get("keywords", [])]),
                tuple(tuple(str(e).lower().split()) for e in t.get("exclude", [])),
            )
            for t in data["topics"]
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: cannot read the topic taxonomy ({exc})") from exc


@dataclass(frozen=True)
class Tag:
    topic: str
    score: float
    terms: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "score": round(self.score, 4), "terms": list(self.terms)}


@dataclass(frozen=True)
class TopicModel:
    card: dict[str, Any]
    coef: np.ndarray[Any, Any]  # (n_features, n_topics)
    intercept: np.ndarray[Any, Any]  # (n_topics,)
    low: np.ndarray[Any, Any]  # (n_topics,) score needed with keyword evidence
    high: np.ndarray[Any, Any]  # (n_topics,) score needed without
    topics: tuple[str, ...]
    taxonomy: tuple[Topic, ...]

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @classmethod
    def load(cls, model_dir: Path = MODEL_DIR) -> TopicModel:
        card_path, array_path = model_dir / "topics.json", model_dir / "topics.npz"
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            with np.load(array_path, allow_pickle=False) as arrays:
                coef, intercept = arrays["coef"], arrays["intercept"]
        except FileNotFoundError as exc:
            raise ModelError(f"{exc.filename}: the topic model is missing; run `aggregator train`") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"{model_dir}: cannot read the topic model ({exc}); run `aggregator train`"
            ) from exc
        kind = card.get("features", {}).get("kind")
        if kind != FEATURE_VERSION:
            raise ModelError(
                f"{card_path}: topic model {card.get('version')} uses features '{kind}', this version "
                f"computes '{FEATURE_VERSION}'; run `aggregator train`"
            )
        topics = tuple(card["topics"])
        if coef.shape != (int(card["features"]["n_features"]), len(topics)):
            raise ModelError(f"{array_path}: weights do not match the card; run `aggregator train`")
        taxonomy = load_taxonomy(model_dir / "topics.yaml")
        if tuple(t.name for t in taxonomy) != topics:
            raise ModelError(
                f"{card_path}: the model's topics differ from {model_dir / 'topics.yaml'}; "
                "run `aggregator train`"
            )
        low = np.array([card["thresholds"][t]["with_keywords"] for t in topics])
        high = np.array([card["thresholds"][t]["without"] for t in topics])
        return cls(card, coef.astype(np.float32), intercept.astype(np.float64), low, high, topics, taxonomy)

    def scores(self, words: list[str]) -> np.ndarray[Any, Any]:
        index, weight = hashed(words, self.coef.shape[0])
        z = weight @ self.coef[index] + self.intercept if len(index) else self.intercept
        result: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return result

    def tag(self, words: list[str]) -> list[Tag]:
        scores = self.scores(words)
        chosen = [
            i
            for i, topic in enumerate(self.taxonomy)
            if scores[i] >= self.high[i] or (scores[i] >= self.low[i] and topic.evidence(words))
        ]
        if not chosen:
            return []
        n_features = self.coef.shape[0]
        positions = gram_indices(words, n_features).tolist()
        gram_list = grams(words)
        tags = []
        for i in sorted(chosen, key=lambda j: -scores[j]):
            weights = self.coef[positions, i]
            order = np.argsort(-weights)
            terms: list[str] = []
            for k in order:
                if weights[k] <= 0 or len(terms) >= TERMS_PER_TAG:
                    break
                if gram_list[k] not in terms:
                    terms.append(gram_list[k])
            tags.append(Tag(self.topics[i], float(scores[i]), tuple(terms)))
        return tags
