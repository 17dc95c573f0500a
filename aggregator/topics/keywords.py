"""The taxonomy's keywords as one index (one pass over a post finds them all), and the
strong keywords: those that in the training posts almost always mean their topic."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from ..features.tokens import Remembered
from .taxonomy import Topic


@dataclass(frozen=True)
class KeywordIndex:
    """Keywords (words and phrases) in one index, so one pass over a post finds them all."""

    words: dict[str, frozenset[str]]  # word -> topics
    phrases: dict[str, tuple[tuple[tuple[str, ...], frozenset[str]], ...]]  # first word -> ...
    exclude: tuple[tuple[tuple[str, ...], str], ...] = ()  # (phrase, topic it is no evidence of)

    @classmethod
    def of(
        cls,
        entries: Iterable[tuple[str, tuple[str, ...]]],
        exclude: tuple[tuple[tuple[str, ...], str], ...] = (),
    ) -> KeywordIndex:
        """An index of (topic, keyword as a tuple of tokens) pairs."""
        words: dict[str, set[str]] = {}
        phrases: dict[str, dict[tuple[str, ...], set[str]]] = {}
        for topic, keyword in entries:
            if len(keyword) == 1:
                words.setdefault(keyword[0], set()).add(topic)
            else:
                phrases.setdefault(keyword[0], {}).setdefault(keyword, set()).add(topic)
        return cls(
            {w: frozenset(t) for w, t in words.items()},
            {w: tuple((p, frozenset(t)) for p, t in by.items()) for w, by in phrases.items()},
            exclude,
        )

    @cached_property
    def _word_keys(self) -> frozenset[str]:
        return frozenset(self.words)

    @cached_property
    def _plurals(self) -> dict[str, str]:
        return {word + "s": word for word in self.words}

    @cached_property
    def _plural_keys(self) -> frozenset[str]:
        return frozenset(self._plurals)

    @cached_property
    def _needles(self) -> dict[str, tuple[tuple[frozenset[str], str, str, frozenset[str]], ...]]:
        """Each phrase by first word: (its words, the text it makes among space-joined
        tokens, the phrase, its topics)."""
        return {
            start: tuple(
                (frozenset(phrase), f" {' '.join(phrase)} ", " ".join(phrase), topics)
                for phrase, topics in by_start
            )
            for start, by_start in self.phrases.items()
        }

    @cached_property
    def _phrase_keys(self) -> frozenset[str]:
        return frozenset(self.phrases)

    def _is_keyword(self, word: str) -> bool:
        return word in self.words or word in self._plurals

    def _split(self, word: str) -> tuple[str, ...]:
        """The parts a compound token stands for ("bgp-evpn": "bgp", "evpn"; "ospf/is-is":
        "ospf", "is-is"; "ldp-igp/sr": "ldp-igp", "ldp", "igp", "sr"), or () for a keyword
        as written ("is-is", "pim-sm") and for a plain word."""
        found: list[str] = []
        if ("-" in word or "/" in word) and not self._is_keyword(word):
            for part in word.split("/") if "/" in word else word.split("-"):
                if part:
                    found.append(part)
                    if "-" in part and "/" in word and part not in self.words:
                        found.extend(p for p in part.split("-") if p)
        return tuple(found)

    @cached_property
    def _parts(self) -> Callable[[str], tuple[str, ...]]:
        """_split(), remembered: through map() it costs less than testing each word of a
        post for a dash."""
        return Remembered(self._split).__getitem__

    def expand(self, words: list[str]) -> list[str]:
        """The tokens with the parts of each compound one after it: "bgp-evpn" is also
        "bgp" and "evpn", "ospf/is-is" also "ospf" and "is-is", as a reader sees them."""
        out: list[str] = []
        for word in words:
            out.append(word)
            if "-" in word or "/" in word:
                out.extend(self._parts(word))
        return out

    def hits(
        self, words: list[str], present: set[str] | None = None, joined: str | None = None
    ) -> dict[str, frozenset[str]]:
        """Each keyword (a word, or a phrase as space-joined words) that occurs in a token
        list -> its topics. A plural counts as its singular, and a compound token's parts
        count (expand()). present: set(words), joined: " ".join(words), when the caller
        has them."""
        joined = " ".join(words) if joined is None else joined
        present = set(words) if present is None else present
        if "-" in joined or "/" in joined:  # tested in C first
            parts = list(filter(None, map(self._parts, present)))  # in C: no loop in Python
            if parts:
                present = present.union(*parts)
                # A phrase may sit inside a compound ("route-reflector").
                joined = " ".join((joined, *(" ".join(p) for p in parts)))
        # Set intersections run in C: most words of a post are no keyword at all.
        direct = present & self._word_keys
        found = {word: self.words[word] for word in direct}
        for plural in present & self._plural_keys - direct:  # a keyword itself stays itself
            singular = self._plurals[plural]
            found[singular] = self.words[singular]
        starts = present & self._phrase_keys
        if starts:
            # Tokens hold no spaces: a phrase occurs where its words do, space-separated.
            text = f" {joined} "
            for start in starts:
                for phrase_words, needle, phrase, topics in self._needles[start]:
                    # The set test first: a search through the text costs more.
                    if phrase_words <= present and needle in text:
                        found[phrase] = topics
        return found

    def topics_in(self, words: list[str]) -> set[str]:
        """The topics whose keywords occur in a token list, less those whose keywords all
        sit inside one of their excluded phrases."""
        return self.evidence(words, self.hits(words))

    def evidence(self, words: list[str], found: dict[str, frozenset[str]]) -> set[str]:
        """topics_in(words), from the keywords found in them (hits(words))."""
        topics: set[str] = set().union(*found.values())
        joined = None
        for phrase, topic in self.exclude:
            if topic in topics:
                joined = " ".join(words) if joined is None else joined
                # A search in C first: the phrase is rarely there, as words or in a compound.
                if (" ".join(phrase) in joined or "-".join(phrase) in joined) and self._only_inside(
                    self.expand(words), phrase, topic
                ):
                    topics.discard(topic)
        return topics

    def _only_inside(self, words: list[str], phrase: tuple[str, ...], topic: str) -> bool:
        """Whether the topic's keywords all sit inside the phrase: "multicast dns" is no
        multicast evidence, but "IGMP ... multicast dns" still is. words: expand()ed, so
        a compound token is left out, its parts standing for it."""
        words = [w for w in words if not ("-" in w or "/" in w) or self._is_keyword(w)]
        size = len(phrase)
        inside = {
            i + k
            for i, word in enumerate(words)
            if word == phrase[0] and tuple(words[i : i + size]) == phrase
            for k in range(size)
        }
        if not inside:
            return False
        others = [w for i, w in enumerate(words) if i not in inside]
        return topic not in self._without_exclusions.topics_in(others)

    @cached_property
    def _without_exclusions(self) -> KeywordIndex:
        return KeywordIndex(self.words, self.phrases)


STRONG_SUPPORT = 5  # training posts that must name a keyword before it can be strong
STRONG_PRECISION = 0.95  # share of them that must carry the topic


def strong_keywords(
    hits: list[dict[str, frozenset[str]]], truth: np.ndarray[Any, Any], topics: tuple[str, ...]
) -> dict[str, list[str]]:
    """Per topic, the keywords that in the training posts almost always mean the topic:
    named by at least STRONG_SUPPORT posts, STRONG_PRECISION of which carry it. Such a
    keyword tags a post by itself, whatever the model's score (a title such as "Auto-RP
    or BSR for a campus?" is too short for the model to be sure)."""
    seen: dict[tuple[str, str], list[int]] = {}
    column = {t: j for j, t in enumerate(topics)}
    for row, post_hits in enumerate(hits):
        for keyword, keyword_topics in post_hits.items():
            for topic in keyword_topics:
                counts = seen.setdefault((keyword, topic), [0, 0])
                counts[0] += 1
                counts[1] += int(truth[row, column[topic]])
    strong: dict[str, list[str]] = {t: [] for t in topics}
    for (keyword, topic), (named, carried) in sorted(seen.items()):
        if len(keyword) > 1 and named >= STRONG_SUPPORT and carried >= STRONG_PRECISION * named:
            strong[topic].append(keyword)
    return strong


@lru_cache(maxsize=4)
def keyword_index(taxonomy: tuple[Topic, ...]) -> KeywordIndex:
    return KeywordIndex.of(
        [(t.name, (word,)) for t in taxonomy for word in t.keywords.words]
        + [(t.name, phrase) for t in taxonomy for phrase in t.keywords.phrases],
        tuple((phrase, topic.name) for topic in taxonomy for phrase in topic.exclude),
    )


def strong_in(
    strong: dict[str, frozenset[str]], found: dict[str, frozenset[str]], column: dict[str, int]
) -> dict[int, list[str]]:
    """Topic column -> the strong keywords of that topic (strong: keyword -> topics) among
    the keywords found (keyword -> topics)."""
    if strong.keys().isdisjoint(found):
        return {}
    common = strong.keys() & found.keys()
    named: dict[int, list[str]] = {}
    for keyword in sorted(common):
        for topic in sorted(strong[keyword] & found[keyword]):
            named.setdefault(column[topic], []).append(keyword)
    return named


def strong_map(card_keywords: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    """The model card's strong keywords (topic -> keywords) as keyword -> topics."""
    topics: dict[str, set[str]] = {}
    for topic, keywords in card_keywords.items():
        for keyword in keywords:
            topics.setdefault(keyword, set()).add(topic)
    return {keyword: frozenset(named) for keyword, named in topics.items()}
