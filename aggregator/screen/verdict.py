"""Screening: keep English networking posts; drop other languages, spam and off-topic posts.

Pure functions over a post's text, so the same code serves `aggregator update` (in the
parser workers) and `aggregator label`. The decision, in order, each stage named in the
verdict (`decided_by`) so that `aggregator explain` can say which one decided:

1. language (language.py): script, then function words, then langdetect; the feed's
   language decides only when the text cannot;
2. spam (spam.py): strong and weak signals, read beside the networking evidence;
3. the networking model: probability that the post is about networking, over hashed word
   1-2-grams and the concepts the lexicon (lexicon.py) finds: networking names by kind,
   ambiguous ones, general-computing names by area. A post that names networking terms needs
   a lower probability than one that names none; both thresholds are chosen out of fold;
4. the feed's record: a post that only just fails, from a feed whose posts are overwhelmingly
   networking, is judged with that record as its prior (feed_record()).

Per-feed drift and quarantine need the feed's history over time and live in baseline.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from json.encoder import encode_basestring as _json_str  # C; ensure_ascii=False
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..baseline import FeedRecord
from ..cards import MODEL_DIR
from ..errors import ModelError
from ..features.hashing import FeatureBatch, hashed_batch
from ..features.linear import LinearTextModel
from ..topics.lexicon import Found, Lexicon
from ..topics.reading import Reading, read_posts
from ..topics.taxonomy import Words, load_words
from ..types import StoredVerdict
from .language import detect_language
from .spam import judge_spam, spam_signals
from .text import screening_text

if TYPE_CHECKING:
    from ..topics.model import Tag, TopicModel


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
    evidence: tuple[str, ...] = ()  # networking terms that count
    tags: tuple[Tag, ...] = ()  # topics, when a topic model is loaded
    decided_by: str = ""  # the stage that decided, and why
    senses: tuple[str, ...] = ()  # ambiguous terms found, with their other senses
    general: tuple[str, ...] = ()  # general-computing terms found ("area: term")
    # Decided before the model, on what the post is: the feed's record does not overturn it.
    settled: bool = False

    def scores(self) -> dict[str, Any]:
        return {
            "networking": round(self.score, 4),
            "language": self.lang_probabilities,
            "language_decided_by": self.lang_note,
            "signals": list(self.signals),
            "networking_terms": list(self.evidence),
            "ambiguous_terms": list(self.senses),
            "general_terms": list(self.general),
            "decided_by": self.decided_by,
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


# What the last stage weighs: the text model's log-odds, and what the lexicon found.
STACK_FEATURES = (
    "text model log-odds / 10",
    "networking names (log)",
    "ambiguous networking names beside them (log)",
    "ambiguous networking names alone (log)",
    "general-computing names (log)",
    "general-computing names and no networking name",
    "words (log)",
)


def stack_features(log_odds: float, found: Found, words: int) -> list[float]:
    """The inputs of the last stage (STACK_FEATURES), for one post."""
    strong, ambiguous, general = len(found.networking), len(found.ambiguous), len(found.general)
    return [
        max(-3.0, min(3.0, log_odds / 10)),
        math.log1p(strong),
        math.log1p(ambiguous) if strong else 0.0,
        0.0 if strong else math.log1p(ambiguous),
        math.log1p(general),
        1.0 if general and not strong else 0.0,
        math.log1p(words),
    ]


# A post of fewer words than this, with no networking word (settled or ambiguous), is too
# short for the model to judge: one or two words that name nothing ("888", "Daftar",
# "Hello world") score near the model's prior, which keeps them. A feed whose posts are
# overwhelmingly networking still keeps its short ones (feed_record).
MIN_WORDS = 3
MIN_RECORD = 8  # posts a feed's record needs before it weighs
OVERWHELMING = 0.9  # share of kept posts that makes a feed overwhelmingly networking


def _check_stack(card: dict[str, Any], card_path: Path) -> None:
    """A screening card has the last stage, its prior and its thresholds by evidence."""
    try:
        stack = card["stack"]
        complete = len(stack["coef"]) == len(STACK_FEATURES) and "intercept" in stack
        complete = complete and all(key in card for key in ("prior", "ambiguous_threshold"))
    except (KeyError, TypeError):
        complete = False
    if not complete:
        raise ModelError(f"{card_path}: the model has no last stage for this version; run `aggregator train`")


@dataclass(frozen=True)
class Screener:
    model: LinearTextModel
    lexicon: Lexicon
    vocabulary: frozenset[str] = frozenset()
    prose: frozenset[str] | None = None  # the vocabulary less the lexicon's names
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

    @property
    def prior(self) -> float:
        """The share of networking posts the model was trained on: its probabilities'
        prior, which a feed's record replaces."""
        return float(self.model.card["prior"])

    @classmethod
    def load(
        cls,
        languages: tuple[str, ...] = ("en",),
        model_dir: Path = MODEL_DIR,
        topics: bool = True,
        words: Words | None = None,
    ) -> Screener:
        """The screener of model_dir; words: model_dir's lexicon and vocabulary, when the
        caller has them (the run loads them before it forks the parser workers)."""
        from ..topics.model import TopicModel

        words = words or load_words(model_dir)
        model = LinearTextModel.load(model_dir / "screen")
        _check_stack(model.card, model_dir / "screen.json")
        # langdetect is loaded on first use only (80 MB of profiles): most English posts
        # never need it.
        return cls(
            model,
            words.lexicon,
            words.vocabulary,
            words.prose,
            languages,
            TopicModel.load(model_dir, words.taxonomy, frozenset(words.lexicon.embedded)) if topics else None,
        )

    def networking_scores(
        self, batch: FeatureBatch, found: list[Found], token_lists: list[list[str]]
    ) -> list[float]:
        """Probability of networking content for each post of a batch: the text model's
        log-odds weighed with the lexicon's findings by the last stage (the card's stack)."""
        log_odds = self.model.log_odds(batch)
        stack = self.model.card["stack"]
        weights, bias = stack["coef"], float(stack["intercept"])
        out = []
        for z, post_found, words in zip(log_odds.tolist(), found, token_lists, strict=True):
            t = bias + sum(
                w * x for w, x in zip(weights, stack_features(z, post_found, len(words)), strict=True)
            )
            out.append(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, t)))))
        return out

    @property
    def ambiguous_threshold(self) -> float:
        """Networking probability needed when the post names only ambiguous words."""
        return float(self.model.card["ambiguous_threshold"])

    def needed(self, settled: bool, ambiguous: bool) -> tuple[float, str]:
        """The probability a post needs, and why: it names settled networking names, only
        ambiguous networking words, or none at all (thresholds chosen out of fold)."""
        if settled:
            return self.threshold, "the threshold with networking names"
        if ambiguous:
            return self.ambiguous_threshold, "the threshold with ambiguous words only"
        return self.strong, "the threshold with no networking word"

    def read(self, texts: list[str], titles: list[str]) -> tuple[Reading, FeatureBatch]:
        """read_posts(), with the hashed features of words, word pairs and concepts."""
        reading = read_posts(self.lexicon, texts, titles)
        return reading, hashed_batch(reading.words, self.model.n_features, reading.concepts)

    def screen(
        self, items: list[tuple[str, str, str | None]], media: Sequence[bool] | None = None
    ) -> list[Verdict]:
        """Verdicts for (title, text, feed language or None) triples, in order. media: which
        posts carry audio or video (a podcast episode): their subject is in the media, so a
        short title is no reason to drop them."""
        carries = list(media) if media is not None else [False] * len(items)
        texts = [screening_text(title, text) for title, text, _ in items]
        # Read and hashed once, for all posts together: the screening and topic models
        # share the feature space.
        reading, batch = self.read(texts, [title for title, _, _ in items])
        found, token_lists = reading.found, reading.words
        scores = self.networking_scores(batch, found, token_lists)
        tags = self.topics.tag_batch(batch, reading) if self.topics else [[] for _ in items]
        out = []
        default = self.languages[0]
        for (title, _text, hint), text, words, ordinary, post_found, score, post_tags, has_media in zip(
            items, texts, token_lists, reading.ordinary, found, scores, tags, carries, strict=True
        ):
            # Nothing known of the feed: the site's own language is the fallback.
            fallback, source = (hint, "feed language") if hint else (default, "site language")
            language = detect_language(text, fallback, source, self.vocabulary, ordinary, self.prose)
            signals = tuple(spam_signals(words, text, title))
            settled = False
            counted = tuple(dict.fromkeys(e.term for e in post_found.counted))
            spam = judge_spam(signals, len(counted))
            if language.lang not in self.languages:
                reason: str | None = "non_english"
                decided = f"language: {language.lang}, by {language.decided_by}"
            elif spam.spam:
                reason, decided = "spam", f"spam: {spam.why}"
            elif not words:
                # An item with no words (no title and no text, an image or a bare link, a
                # title of emoji: what a hijacked feed slips in) says nothing, and the
                # model's prior would keep it.
                reason, decided, settled = "offtopic", "nothing to read: no words in its title or text", True
            elif (
                len(words) < MIN_WORDS
                and not post_found.networking
                and not post_found.ambiguous
                and not has_media
            ):
                reason = "offtopic"
                decided = f"too short to judge: {len(words)} word(s), no networking word"
            else:
                needed, which = self.needed(bool(post_found.networking), bool(post_found.ambiguous))
                reason = None if score >= needed else "offtopic"
                decided = (
                    f"networking model: {score:.2f} {'>=' if reason is None else '<'} {needed:.2f}, {which}"
                )
            out.append(
                Verdict(
                    keep=reason is None,
                    reason=reason,
                    lang=language.lang,
                    lang_note=language.decided_by,
                    lang_probabilities=language.probabilities,
                    score=float(score),
                    signals=signals,
                    evidence=counted[:10],
                    tags=tuple(post_tags),
                    model_version=self.model.version,
                    decided_by=decided,
                    senses=tuple(f"{e.term}: {e.senses}" for e in post_found.ambiguous[:10]),
                    general=tuple(f"{e.area}: {e.term}" for e in post_found.general[:10]),
                    settled=settled,
                )
            )
        return out

    def feed_record(self, verdicts: list[Verdict], history: FeedRecord | None = None) -> list[Verdict]:
        """The verdicts of one feed's posts, with the feed's record weighed in: a post the
        model found off-topic, from a feed whose other posts (its history, and the rest of
        this batch) are overwhelmingly networking, is judged again with the feed's share of
        networking posts as its prior instead of the training set's. General computing
        that outweighs the post's networking terms still goes, and so does a clear departure
        (another language, spam)."""
        history = history or FeedRecord()
        record = FeedRecord(history.screened + len(verdicts), history.kept + sum(v.keep for v in verdicts))
        out = []
        for verdict in verdicts:
            others = record.without(verdict)
            if (
                verdict.reason != "offtopic"
                or verdict.settled
                or others.screened < MIN_RECORD
                or others.kept < OVERWHELMING * others.screened
                or len(verdict.general) > len(verdict.evidence)
            ):
                out.append(verdict)
                continue
            share = others.networking_share
            odds = _odds(verdict.score) * _odds(share) / _odds(self.prior)
            adjusted = odds / (1 + odds)
            needed, _ = self.needed(bool(verdict.evidence), bool(verdict.senses))
            if adjusted < needed:
                out.append(verdict)
                continue
            out.append(
                replace(
                    verdict,
                    keep=True,
                    reason=None,
                    decided_by=(
                        f"feed record: {others.kept} of {others.screened} other posts of this feed kept; "
                        f"with that prior the networking score {verdict.score:.2f} becomes "
                        f"{adjusted:.2f} >= {needed:.2f}"
                    ),
                )
            )
        return out


def _odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return p / (1 - p)
