"""Topic tagging: multicast, BGP, IGP, Kubernetes and the rest of models/topics.yaml.

One linear model per topic over the same hashed word 1-2-grams the screener computes,
stored as plain data (a JSON card with the topic names and per-topic thresholds, and an
.npz with a weight matrix). A post gets every topic whose score clears that topic's
threshold (a second topic also a share of the main one's), with the terms that
contributed most.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..cards import MODEL_DIR
from ..errors import ModelError
from ..features.hashing import FeatureBatch
from ..features.linear import read_model
from .keywords import KeywordIndex, keyword_index, strong_in, strong_map
from .reading import Reading
from .taxonomy import Topic, load_taxonomy

TERMS_PER_TAG = 5
# A second topic needs at least this share of the post's most likely topic's probability
# (besides its own threshold): the labelling rule tags a post with its main subjects, and
# real posts name more topics in passing than the team's texts do. The value is chosen
# out of fold by `aggregator train` (second_topic_share in the card; see train.py) from
# this grid. No rule at all is not on it: the team's texts write their second topics as
# co-subjects, so out of fold the rule gains or loses a few thousandths either way, while
# on every private set of real posts measured so far it took off far more wrong tags
# than right ones (docs/topics.md).
SECOND_TOPIC_SHARES = (0.3, 0.4, 0.5, 0.6, 0.7)
# The topics every site needs: the evaluation reports them together.
REQUIRED_TOPICS = ("multicast", "bgp", "igp", "kubernetes")


class Tag(NamedTuple):
    """A topic given to a post: its score, and the terms that weighed most for it."""

    topic: str
    score: float
    terms: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "score": round(self.score, 4), "terms": list(self.terms)}


@dataclass(frozen=True)
class _Compact:
    """A weight matrix without its all-zero rows: most hashed features were never seen in
    training, and the full matrix would cost every parser process 14 MB."""

    where: np.ndarray[Any, Any]  # (n_features,) row in values, or the zero row at the end
    values: np.ndarray[Any, Any]  # (seen features + 1, n_topics)

    @classmethod
    def of(cls, dense: np.ndarray[Any, Any]) -> _Compact:
        seen = np.flatnonzero(np.any(dense != 0, axis=1))
        where = np.full(dense.shape[0], len(seen), dtype=np.int32)
        where[seen] = np.arange(len(seen), dtype=np.int32)
        values = np.vstack([dense[seen], np.zeros((1, dense.shape[1]), dtype=dense.dtype)])
        return cls(where, values)

    def rows(self, index: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        result: np.ndarray[Any, Any] = self.values[self.where[index]]
        return result


@dataclass(frozen=True)
class TopicModel:
    card: dict[str, Any]
    coef: _Compact  # (n_features, n_topics), only the rows of features seen in training
    intercept: np.ndarray[Any, Any]  # (n_topics,)
    low: np.ndarray[Any, Any]  # (n_topics,) the last stage's probability needed
    topics: tuple[str, ...]
    taxonomy: tuple[Topic, ...]
    keywords: KeywordIndex
    strong: dict[str, frozenset[str]]  # strong keyword -> its topics (strong_keywords)
    stack_coef: np.ndarray[Any, Any]  # (topics, features)
    stack_intercept: np.ndarray[Any, Any]  # (topics,)
    # The protocols' own names (models/lexicon/embedded.tsv: names no English word holds,
    # such as bgp, ospf, igmp, evpn): what a title names a topic by, with the topic's name
    # and its strong keywords (titled()).
    protocol_names: frozenset[str] = frozenset()

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @cached_property
    def second_share(self) -> float:
        """The share of the main topic's probability a second topic needs (0: none); a
        card trained before the rule has none."""
        return float(self.card.get("second_topic_share", 0.0))

    @classmethod
    def load(
        cls,
        model_dir: Path = MODEL_DIR,
        taxonomy: tuple[Topic, ...] | None = None,
        protocols: frozenset[str] | None = None,
    ) -> TopicModel:
        """The topic model of model_dir; taxonomy: model_dir's topics.yaml, and protocols:
        the names of its lexicon's embedded.tsv, when the caller has read them."""
        card_path = model_dir / "topics.json"
        card, coef, intercept = read_model(
            model_dir / "topics",
            expected_shape=lambda card: (card["features"]["n_features"], len(card["topics"])),
        )
        topics = tuple(card["topics"])
        taxonomy = load_taxonomy(model_dir / "topics.yaml") if taxonomy is None else taxonomy
        if tuple(t.name for t in taxonomy) != topics:
            raise ModelError(
                f"{card_path}: the model's topics differ from {model_dir / 'topics.yaml'}; "
                "run `aggregator train`"
            )
        low = np.array([card["thresholds"][t]["with_keywords"] for t in topics])
        return cls(
            card,
            # Half precision: a weight's fourth significant digit never decides a topic,
            # and the matrix lives in every parser process.
            _Compact.of(coef.astype(np.float16)),
            intercept.astype(np.float64),
            low,
            topics,
            taxonomy,
            keyword_index(taxonomy),
            strong_map(card.get("strong_keywords", {})),
            *_stack(card, topics, card_path),
            protocol_names(model_dir / "lexicon" / "embedded.tsv") if protocols is None else protocols,
        )

    def rows(self, index: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The weight rows of these feature indices (zeros for features never seen)."""
        return self.coef.rows(index)

    def _strong_in(self, found: dict[str, frozenset[str]]) -> dict[int, list[str]]:
        """Topic column -> the strong keywords of that topic among the keywords found."""
        return strong_in(self.strong, found, self._column)

    @cached_property
    def _column(self) -> dict[str, int]:
        return {topic: j for j, topic in enumerate(self.topics)}

    @property
    def n_features(self) -> int:
        return int(self.card["features"]["n_features"])

    def tag_batch(self, batch: FeatureBatch, reading: Reading) -> list[list[Tag]]:
        """The topics of every post of a batch: each topic's text model gives log-odds
        (over the hashed words, pairs and concepts), and the last stage weighs them with
        the keywords and lexicon terms the post names, whether its title names them, and
        how much of the post's vocabulary is the topic's (a passing mention is not a
        subject). A topic is given when that clears the topic's threshold."""
        token_lists = reading.words
        gathered, strong, probabilities = self._last_stage(batch, reading)
        clears = given(probabilities, self.low, self.second_share)
        for i, j in self.titled(reading):
            clears[i, j] = True
        clears = clears.tolist()
        scores = probabilities.tolist()
        chosen = [_best_first(row, post) for row, post in zip(clears, scores, strict=True)]
        # A tag's terms: its strong keywords, then the lexicon's terms of the topic the
        # post names; a tag that has fewer than two of those (the model's alone) takes
        # the words and word pairs that weighed most for it.
        terms_of = [
            [_terms(post_strong.get(j, ()), found.topics.get(self.topics[j], ())) for j in topics]
            for topics, post_strong, found in zip(chosen, strong, reading.found, strict=True)
        ]
        unexplained = [
            [j for j, terms in zip(topics, post_terms, strict=True) if len(terms) < 2]
            for topics, post_terms in zip(chosen, terms_of, strict=True)
        ]
        ranked: dict[int, list[int]] = {}
        if any(unexplained):
            # Terms are words and word pairs, not the lexicon's concept tokens after them.
            word_grams = np.array([max(2 * len(words) - 1, 0) for words in token_lists], dtype=np.int64)
            ranked = self._ranked_grams(gathered, batch.bounds, unexplained, batch.index, word_grams)
        width = len(self.topics)
        tags = []
        for i, (words, post_scores, topics, post_terms) in enumerate(
            zip(token_lists, scores, chosen, terms_of, strict=True)
        ):
            n = len(words)
            post_tags = []
            for j, terms in zip(topics, post_terms, strict=True):
                if len(terms) < TERMS_PER_TAG:
                    # Positions are the words first, then the pairs of neighbouring words.
                    for k in ranked.get(i * width + j, ()):
                        gram = words[k] if k < n else f"{words[k - n]} {words[k - n + 1]}"
                        if gram not in terms:
                            terms.append(gram)
                            if len(terms) == TERMS_PER_TAG:
                                break
                post_tags.append(Tag(self.topics[j], post_scores[j], tuple(terms)))
            tags.append(post_tags)
        return tags

    def titled(self, reading: Reading) -> list[tuple[int, int]]:
        """(post, topic column) for each post whose title's head (before the words that
        turn to the setting: "... over WireGuard", "... in a Kubernetes cluster") names
        one topic by that topic's own name: its name, a strong keyword, a protocol's name
        among its keywords or the taxonomy's `names` ("Full-Mesh BGP Network Over
        WireGuard", "IP Multicast for residential TV", "IS-IS levels explained"). Such a
        post is about that topic whatever its text weighs: real titles name their subject
        so far more often than the training texts, which the text model learned to read
        past. Keywords that are weaker evidence (TTL for dns, SSM or RP for multicast,
        traceroute for observability) do not count, and two topics named by their own
        names are left to the model ("OSPF and BGP compared"). Other topics the head names
        by lesser terms ("a containerlab lab with BGP": a tool of automation) leave the
        topic its subject, unless the post names a topic the taxonomy puts it `under`
        (LABELLING.md: cluster DNS is kubernetes, so "ndots and the DNS queries of every
        API call" is left to the model)."""
        out = []
        for i, (head, found) in enumerate(zip(reading.head_found, reading.found, strict=True)):
            own = [t for t, terms in head.topics.items() if any(self._own_name(t, term) for term in terms)]
            if len(own) != 1:
                continue
            topic = own[0]
            if len(head.topics) > 1 and not self._under[topic].isdisjoint(found.topics):
                continue  # another topic's context, where LABELLING.md makes this one no subject
            out.append((i, self._column[topic]))
        return out

    @cached_property
    def _under(self) -> dict[str, frozenset[str]]:
        """Each topic's `under` topics (topics.yaml)."""
        return {t.name: frozenset(t.under) for t in self.taxonomy}

    def _own_name(self, topic: str, term: str) -> bool:
        """Whether term is, or holds as whole words, one of the topic's own names."""
        return self._own_names[topic].search(term.lower()) is not None

    @cached_property
    def _own_names(self) -> dict[str, re.Pattern[str]]:
        """Each topic's own names as one pattern of whole words, lower case: the topic's
        name, the card's strong keywords, the protocol names among the taxonomy's keywords,
        and the taxonomy's `names` (protocol names English words contain, such as IS-IS)."""
        names: dict[str, set[str]] = {
            t.name: {
                t.name,
                *t.names,
                *(w.lower() for w in t.keywords.words if w.lower() in self.protocol_names),
            }
            for t in self.taxonomy
        }
        for keyword, topics in self.strong.items():
            for topic in topics:
                names[topic].add(keyword)
        return {
            topic: re.compile(
                r"(?<![\w-])(?:"
                + "|".join(re.escape(n.lower()) for n in sorted(found, key=len, reverse=True))
                + r")(?![\w-])"
            )
            for topic, found in names.items()
        }

    def probabilities(self, batch: FeatureBatch, reading: Reading) -> np.ndarray[Any, Any]:
        """(posts, topics): the last stage's probability of every topic, before the
        thresholds tag_batch applies."""
        return self._last_stage(batch, reading)[2]

    def _last_stage(
        self, batch: FeatureBatch, reading: Reading
    ) -> tuple[np.ndarray[Any, Any], list[dict[int, list[str]]], np.ndarray[Any, Any]]:
        """(the weight rows of the batch's grams, each post's strong keywords by topic
        column, the last stage's probabilities)."""
        gathered = self.rows(batch.index)  # (grams, topics), once for the whole batch
        log_odds = batch.sums(gathered) + self.intercept
        strong = [self._strong_in(found.topic_keys) for found in reading.found]
        features = topic_features(self.topics, log_odds, strong, reading)
        z = np.einsum("ptk,tk->pt", features, self.stack_coef) + self.stack_intercept
        probabilities: np.ndarray[Any, Any] = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return gathered, strong, probabilities

    @staticmethod
    def _ranked_grams(
        gathered: np.ndarray[Any, Any],
        bounds: np.ndarray[Any, Any],
        chosen: list[list[int]],
        index: np.ndarray[Any, Any],
        word_grams: np.ndarray[Any, Any] | None = None,
    ) -> dict[int, list[int]]:
        """For each post i and topic column j it gets (key i * topics + j): the positions
        of the post's grams that raise j's score, highest weight first (ties: first
        position first), each feature once (at its first position), at most
        TERMS_PER_TAG. index: the batch's feature index of every gram. One sort for the
        whole batch."""
        posts, width = len(chosen), gathered.shape[1]
        wanted = np.zeros((posts, width), dtype=bool)
        for i, topics in enumerate(chosen):
            wanted[i, topics] = True
        lengths = np.diff(bounds)
        owner = np.repeat(np.arange(posts), lengths)  # the post of every gram
        # Only the grams of the posts that want terms for some topic are looked at.
        wanting: np.ndarray[Any, Any] = np.any(wanted, axis=1)
        rows = np.flatnonzero(wanting[owner])
        if word_grams is not None:  # only each post's first word_grams[i] grams
            rows = rows[rows - bounds[:-1][owner[rows]] < word_grams[owner[rows]]]
        hit, topic = np.nonzero((gathered[rows] > 0) & wanted[owner[rows]])
        grams = rows[hit]
        if not len(grams):
            return {}
        pair = owner[grams].astype(np.int64) * width + topic
        # A feature repeated in a post (a word used five times) is one term: keep the
        # first of each (pair, feature); nonzero() lists grams in position order.
        _, first = np.unique(pair * (int(index.max()) + 1) + index[grams], return_index=True)
        grams, topic, pair = grams[first], topic[first], pair[first]
        position = grams - bounds[owner[grams]]
        # Positive float32 weights order as their bit patterns do: a descending weight is
        # an ascending complement, and (pair, weight, position) packs into one integer.
        inverse = (np.uint32(0xFFFFFFFF) - gathered[grams, topic].astype(np.float32).view(np.uint32)).astype(
            np.int64
        )
        position_bits = max(1, int(lengths.max()).bit_length())
        if int(pair.max()).bit_length() + 32 + position_bits <= 63:
            key = (pair << (32 + position_bits)) | (inverse << position_bits) | position
            key.sort()
            pair, position = key >> (32 + position_bits), key & ((1 << position_bits) - 1)
        else:  # too many grams to pack: sort by the three keys
            order = np.lexsort((position, inverse, pair))
            pair, position = pair[order], position[order]
        starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        rank = np.arange(len(pair)) - np.repeat(starts, np.diff(np.append(starts, len(pair))))
        keep = rank < TERMS_PER_TAG
        ranked: dict[int, list[int]] = {}
        for p, k in zip(pair[keep].tolist(), position[keep].tolist(), strict=True):
            ranked.setdefault(p, []).append(k)
        return ranked


# What the last stage weighs, per topic (topic_features()).
TOPIC_STACK_FEATURES = (
    "text model log-odds / 10",
    "keyword evidence",
    "strong keyword",
    "lexicon terms of the topic (log)",
    "the title names it",
    "the topic with the most terms",
    "share of the post's topic terms",
    "the title names another topic, not this one",
    "the title's head (before in, over, after, with...) names it and no other topic",
)


def topic_features(
    topics: tuple[str, ...],
    log_odds: np.ndarray[Any, Any],
    strong: list[dict[int, list[str]]],
    reading: Reading,
) -> np.ndarray[Any, Any]:
    """(posts, topics, TOPIC_STACK_FEATURES) inputs of the last stage. log_odds: (posts,
    topics) of the text models; strong: each post's strong keywords by topic column; the
    rest is what the lexicon (with the taxonomy's keywords) found in each post."""
    column = {t: j for j, t in enumerate(topics)}
    out = np.zeros((len(reading), len(topics), len(TOPIC_STACK_FEATURES)))
    out[:, :, 0] = np.clip(log_odds / 10, -3, 3)
    # Gathered as flat lists, then set in a few NumPy calls: setting one cell at a time
    # costs more than all the rest.
    posts, columns, counts, most, share, titled_posts, titled_columns = [], [], [], [], [], [], []
    others_titled: list[int] = []
    head_posts: list[int] = []
    head_columns: list[int] = []
    for i, (found, title, head) in enumerate(
        zip(reading.found, reading.title_found, reading.head_found, strict=True)
    ):
        named = found.topic_counts
        if not named:
            continue
        top, total = max(named.values()), sum(named.values())
        for topic, count in named.items():
            posts.append(i)
            columns.append(column[topic])
            counts.append(count)
            most.append(count == top)
            share.append(count / total)
        for topic in title.topics:
            titled_posts.append(i)
            titled_columns.append(column[topic])
        if title.topics:
            others_titled.append(i)
        if len(head.topics) == 1:
            head_posts.append(i)
            head_columns.append(column[next(iter(head.topics))])
    if posts:
        out[posts, columns, 1] = 1.0
        out[posts, columns, 3] = np.log1p(counts)
        out[posts, columns, 5] = most
        out[posts, columns, 6] = share
        out[titled_posts, titled_columns, 4] = 1.0
        # Where the title names some topic, every topic it does not name is marked.
        out[others_titled, :, 7] = 1.0
        out[titled_posts, titled_columns, 7] = 0.0
        out[head_posts, head_columns, 8] = 1.0
    strong_posts = [i for i, post_strong in enumerate(strong) for _ in post_strong]
    if strong_posts:
        out[strong_posts, [j for post_strong in strong for j in post_strong], 2] = 1.0
    return out


def protocol_names(path: Path) -> frozenset[str]:
    """The protocol names of embedded.tsv, lower case (none when the file is not there)."""
    from .lexicon import read_embedded

    return frozenset(read_embedded(path)) if path.exists() else frozenset()


def _terms(strong: Iterable[str], named: Iterable[str]) -> list[str]:
    """Up to TERMS_PER_TAG terms for a tag: strong keywords first, then the lexicon's terms
    of the topic, each once whatever its case."""
    terms: list[str] = []
    seen: set[str] = set()
    for term in itertools.chain(strong, named):
        if term.lower() not in seen:
            seen.add(term.lower())
            terms.append(term)
            if len(terms) == TERMS_PER_TAG:
                break
    return terms


def given(
    probabilities: np.ndarray[Any, Any], low: np.ndarray[Any, Any], second_share: float
) -> np.ndarray[Any, Any]:
    """(posts, topics) whether each topic is given: its probability clears its threshold,
    and second_share of the main topic's, the likeliest that clears its own (see
    SECOND_TOPIC_SHARES). A likelier topic under its threshold is no main topic: it would
    take away a post's only tag."""
    clears: np.ndarray[Any, Any] = probabilities >= low
    if second_share:
        main = np.where(clears, probabilities, 0.0).max(axis=1, keepdims=True)
        clears &= probabilities >= second_share * main
    return clears


def _best_first(clears: list[bool], scores: list[float]) -> list[int]:
    """The columns that clear their threshold, highest score first."""
    return sorted((j for j, ok in enumerate(clears) if ok), key=lambda j: -scores[j])


def _stack(
    card: dict[str, Any], topics: tuple[str, ...], card_path: Path
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The last stage's weights from the card, as (topics, features) and (topics,)."""
    try:
        stack = card["stack"]
        coef = np.array([stack["coef"][t] for t in topics], dtype=np.float64)
        intercept = np.array([stack["intercept"][t] for t in topics], dtype=np.float64)
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{card_path}: the model has no last stage ({exc}); run `aggregator train`") from exc
    if coef.shape != (len(topics), len(TOPIC_STACK_FEATURES)):
        raise ModelError(f"{card_path}: the last stage does not match this version; run `aggregator train`")
    return coef, intercept
