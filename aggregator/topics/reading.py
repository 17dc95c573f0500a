"""What the models read of a post: its tokens, what the lexicon finds in it and in its
title, and the concept tokens that stand beside the words. Read once per batch and shared by
the screener and the topic model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..features.tokens import tokens, tokens_with_case
from .lexicon import NOTHING, Found, Lexicon


def concepts(found: Found, title: Found | None = None) -> tuple[str, ...]:
    """The concept tokens the models read beside the words: what kinds of networking names
    a post uses, whether its ambiguous terms stand in a networking context, which areas of
    general computing it names, and the topics its terms point to, and which of them its
    title names (a post is about what its title names; the rest may be passing mentions). A
    name the training posts never used still speaks through its kind ("~net:daemon")."""
    if found is NOTHING:
        return ()
    strong, general = found.networking, found.general
    out = ["~net"] * min(len(strong), 3)
    out += sorted({e.concept for e in strong})
    if found.ambiguous:
        out.append("~amb:context" if strong else "~amb:alone")
    if general:
        out += ["~gen"] * min(len(general), 3)
        out += sorted({e.concept for e in general})
    topics = found.topic_counts
    if topics:
        most = max(topics.values())
        for topic, count in sorted(topics.items()):
            named, twice, top, _ = _topic_tokens(topic)
            out.append(named)
            if count >= 2:
                out.append(twice)
            if count == most:
                out.append(top)
    if title is not None and title is not NOTHING:
        if title.networking:
            out.append("~net:title")
        if title.general:
            out.append("~gen:title")
        out += sorted(_topic_tokens(topic)[3] for topic in title.topics)
    return tuple(out)


@lru_cache(maxsize=64)
def _topic_tokens(topic: str) -> tuple[str, str, str, str]:
    """A topic's concept tokens: named, named twice or more, the post's top topic, named
    in the title."""
    return f"~t:{topic}", f"~t:{topic}:2", f"~t:{topic}:top", f"~t:{topic}:title"


# Words after which a title turns from its subject to the setting, the trigger or what it
# runs over ("... in a Kubernetes cluster", "... after an OSPF flap", "... over WireGuard",
# "... with no OSPF at all").
SETTING_WORDS = frozenset(
    "in on over with without after before when while via under inside behind through across "
    "using from during despite no not vs versus".split()
)


# Setting words after which a title's subject comes when the words before them name no
# topic: a lead-in ("Playing with OSPF over a GRE mesh", "Notes on IS-IS", "Adventures in
# IPv6"). After the others ("Outage after an OSPF flap") it stays the setting.
SUBJECT_AFTER = frozenset({"with", "on", "in"})


def _head(lexicon: Lexicon, in_title: Found, title_words: list[str]) -> Found:
    """What the title's head names: its words before the first setting word, or, when
    those name no topic and a lead-in ends there, the words from there to the next one."""
    size = len(title_words)
    cut = next((k for k, w in enumerate(title_words) if w in SETTING_WORDS), size)
    if cut == size:
        return in_title
    head = lexicon.within(in_title, title_words[:cut])
    if head.topics or title_words[cut] not in SUBJECT_AFTER:
        return head
    rest = title_words[cut + 1 :]
    end = next((k for k, w in enumerate(rest) if w in SETTING_WORDS), len(rest))
    return lexicon.within(in_title, rest[:end])


@dataclass(frozen=True)
class Reading:
    """What the models read of a batch of posts, post by post."""

    words: list[list[str]]  # tokens()
    ordinary: list[list[str]]  # ordinary words, lower-cased, for the language checks
    found: list[Found]  # what the lexicon finds in the post
    title_found: list[Found]  # ... in its title alone
    # ... in the title's head, before the first word that turns to a setting ("BFD for BGP
    # sessions when your OSPF timers...": the head names BFD and BGP, not OSPF)
    head_found: list[Found]
    concepts: list[list[str]]  # concept tokens, beside the words

    def __len__(self) -> int:
        return len(self.words)


def read_posts(lexicon: Lexicon, texts: list[str], titles: list[str]) -> Reading:
    """What the models read of each post: its title and text as screened (texts), and its
    title. The title's tokens are the first of the text's."""
    words, ordinary, found, title_found, extras, heads = [], [], [], [], [], []
    for text, title in zip(texts, titles, strict=True):
        post_words, post_ordinary = tokens_with_case(text)
        post = lexicon.find(post_words, text)
        size = min(len(tokens(title)), len(post_words)) if title else 0
        title_words = post_words[:size]
        in_title = lexicon.within(post, title_words)
        heads.append(_head(lexicon, in_title, title_words))
        words.append(post_words)
        ordinary.append(post_ordinary)
        found.append(post)
        title_found.append(in_title)
        extras.append(list(concepts(post, in_title)))
    return Reading(words, ordinary, found, title_found, heads, extras)
