"""The words the models read: the topic taxonomy (models/topics.yaml), the lexicon it
joins, and the English vocabulary.

Kept apart from the models (no NumPy): the run's own process loads them before it forks
the parser workers, so that they share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..cards import MODEL_DIR
from ..errors import ModelError
from ..features.tokens import tokens
from .lexicon import NETWORKING, Entry, Lexicon


@dataclass(frozen=True)
class Keywords:
    """A topic's keywords, split as tokens() splits text: single words, and phrases."""

    words: frozenset[str]
    phrases: frozenset[tuple[str, ...]]

    @classmethod
    def from_terms(cls, terms: list[str]) -> Keywords:
        # Single letters ("s" from "router's") would match almost anything: never terms.
        split = [tuple(tokens(t)) for t in terms if len(t.strip()) > 1]
        return cls(
            frozenset(t[0] for t in split if len(t) == 1),
            frozenset(t for t in split if len(t) > 1),
        )


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    covers: str
    keywords: Keywords
    exclude: tuple[tuple[str, ...], ...] = ()  # phrases whose words are not evidence
    # Protocol names a title names the topic by, besides those of lexicon/embedded.tsv
    # (which leaves out names English words contain: "isis" is in "crisis"); see titled().
    names: tuple[str, ...] = ()
    # Topics in whose context this one is no subject of its own (LABELLING.md: cluster DNS
    # is kubernetes, BGP as EVPN's control plane is evpn-vxlan); see titled().
    under: tuple[str, ...] = ()


def taxonomy_entries(taxonomy: tuple[Topic, ...]) -> list[Entry]:
    """The taxonomy's keywords as lexicon entries of their topics (joining the lexicon's
    entry of the same term, senses and all), and its excluded phrases as entries that
    count for nothing, so that the longest match leaves their words out ("multicast" in
    "multicast dns")."""
    entries = [
        Entry(" ".join(keyword), "keyword", NETWORKING, frozenset({topic.name}), "", "models/topics.yaml")
        for topic in taxonomy
        for keyword in sorted(topic.keywords.phrases | {(w,) for w in topic.keywords.words})
    ]
    entries += [
        Entry(
            " ".join(phrase),
            "phrase",
            "general:other",
            frozenset(),
            f"no evidence of {topic.name}",
            "models/topics.yaml",
        )
        for topic in taxonomy
        for phrase in topic.exclude
    ]
    return entries


def load_lexicon(model_dir: Path = MODEL_DIR, taxonomy: tuple[Topic, ...] | None = None) -> Lexicon:
    """The lexicon of model_dir/lexicon with the taxonomy's keywords (model_dir/topics.yaml)."""
    taxonomy = load_taxonomy(model_dir / "topics.yaml") if taxonomy is None else taxonomy
    return Lexicon.load(
        model_dir / "lexicon", frozenset(t.name for t in taxonomy), taxonomy_entries(taxonomy)
    )


# libyaml's safe loader when PyYAML has it: it reads topics.yaml in 4 ms, not 31, and every
# run, publish and label loads the taxonomy first.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_taxonomy(path: Path = MODEL_DIR / "topics.yaml") -> tuple[Topic, ...]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
        taxonomy = tuple(
            Topic(
                t["name"],
                t["description"],
                t["covers"],
                Keywords.from_terms([k.lower() for k in _terms(t, "keywords", path)]),
                tuple(tuple(e.lower().split()) for e in _terms(t, "exclude", path)),
                tuple(n.lower() for n in _terms(t, "names", path)),
                tuple(_terms(t, "under", path)),
            )
            for t in data["topics"]
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: cannot read the topic taxonomy ({exc})") from exc
    names = {t.name for t in taxonomy}
    for topic in taxonomy:
        unknown = sorted(set(topic.under) - names)
        if unknown:
            raise ModelError(
                f"{path}: topic {topic.name!r}: `under` names no topic of the taxonomy: {', '.join(unknown)}"
            )
    return taxonomy


def _terms(topic: dict[str, Any], field: str, path: Path) -> list[str]:
    """A topic's list of terms (keywords, exclude, names, under): a YAML list of strings. A
    bare string would be read letter by letter, each letter a term."""
    value = topic.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        example = '["kubernetes", "bgp"]' if field == "under" else '["is-is", "ospf"]'
        raise ModelError(
            f"{path}: topic {topic.get('name')!r}: `{field}` must be a list of terms, "
            f"as in {field}: {example}"
        )
    return value


@dataclass(frozen=True)
class Words:
    """The lexicon (with the taxonomy's keywords) and the English vocabulary of the
    team's corpus, and that vocabulary less the field's names: English prose, for the
    language checks ("bgp" and "kubectl" say nothing of the language around them). The
    taxonomy the lexicon was read with comes along, for the topic model."""

    lexicon: Lexicon
    vocabulary: frozenset[str]
    prose: frozenset[str]
    taxonomy: tuple[Topic, ...]


def load_words(model_dir: Path = MODEL_DIR) -> Words:
    path = model_dir / "english_words.txt"
    try:
        vocabulary = frozenset(path.read_text(encoding="utf-8").split())
    except OSError as exc:
        raise ModelError(f"{path}: missing ({exc}); run `aggregator train`") from exc
    taxonomy = load_taxonomy(model_dir / "topics.yaml")
    lexicon = load_lexicon(model_dir, taxonomy).indexed()
    names = frozenset(key for key, entry in lexicon.entries.items() if entry.networking and " " not in key)
    return Words(lexicon, vocabulary, vocabulary - names, taxonomy)
