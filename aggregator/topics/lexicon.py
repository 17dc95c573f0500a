"""The field's vocabulary: what a network engineer recognizes in a post, and what not.

models/lexicon/*.tsv hold thousands of entries, each a fact gathered from a public source
(the RFC index, IANA registries, Debian's network section, projects' and vendors' docs):

    term  kind  domain  topics  senses  source

- domain "networking": evidence that a post is about networking (Kubernetes included);
  "general:<area>": general computing that is not networking (desktop tools, programming
  languages and libraries, web front-end, phones, home electronics, machine learning), which
  is evidence against;
- topics: the topics of models/topics.yaml the entry is evidence of;
- senses: the entry's other common senses ("animal" for BIRD, "light switch" for switch), or
  "-": an entry with other senses counts only in a networking context (beside an entry that
  has none), unless the post writes it exactly as the entry does and the entry is an
  acronym or a name with capitals ("LISP" the protocol, not "Lisp" the language).

A token that embeds a protocol's name (GoBGP, ospf6d, kubeconfig, kube-vip) resolves to that
protocol: models/lexicon/embedded.tsv lists the names that are safe to find inside words
(no English word contains them).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path

from ..cards import MODEL_DIR
from ..errors import ModelError
from ..features.tokens import Remembered, tokens

LEXICON_DIR = MODEL_DIR / "lexicon"
NETWORKING = "networking"
COLUMNS = ("term", "kind", "domain", "topics", "senses", "source")


@dataclass(frozen=True, slots=True)
class Entry:
    term: str  # as usually written
    kind: str
    domain: str  # "networking" or "general:<area>"
    topics: frozenset[str]
    senses: str  # other common senses; "" when the term is unambiguous in tech writing
    source: str
    key: str = ""  # " ".join(tokens(term)): what the lexicon matches
    # A general-computing name is spelled exactly as this networking one ("PHP", "DOM",
    # "LCP", "NGINX"): its spelling cannot tell which is meant.
    spelled_alike: bool = False
    # A spelling of an ambiguous networking entry that settles it where a text writes it
    # so, with a version number after it ("BIRD 2.0.11", "KinD v0.20"): the name of a
    # piece of software. "" when it has none.
    settled_as: str = ""
    # The concept token the models read for the entry: its kind, for a networking name
    # ("~net:daemon"), its area for a general-computing one ("~gen:desktop"). Set once
    # here: every post reads it for each entry it names (a property cost 2 us a post).
    concept: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "concept", _concept(self.domain, self.kind))

    @property
    def networking(self) -> bool:
        return self.domain == NETWORKING

    @property
    def area(self) -> str:
        """ "networking", or the general-computing area ("desktop", "programming"...)."""
        return self.domain.split(":", 1)[-1]

    @property
    def exact(self) -> str | None:
        """The spelling that settles an ambiguous entry: an acronym or a name written with
        capitals inside ("LISP", "PoP", "SONiC"), found as written."""
        if self.senses and not self.spelled_alike and sum(c.isupper() for c in self.term) >= 2:
            return self.term
        return None


@lru_cache(maxsize=256)
def _concept(domain: str, kind: str) -> str:
    return f"~net:{kind}" if domain == NETWORKING else f"~gen:{domain.split(':', 1)[-1]}"


def merge(a: Entry, b: Entry) -> Entry:
    """Two entries with the same tokens: one entry, networking when either is, with both
    senses; a networking entry that is also a general-computing name is ambiguous."""
    # Each sense once: two files may both say "English word" ("English word; person living
    # next door" and "English word").
    senses = [part.strip() for s in (a.senses, b.senses) for part in s.split(";") if part.strip()]
    spelled_alike = a.spelled_alike or b.spelled_alike
    if a.networking != b.networking:
        general = b if a.networking else a
        senses.append(f"also {general.area} ({general.term})")
        first = a if a.networking else b
        spelled_alike = spelled_alike or general.term == first.term
    else:
        # The spelling shown is the plain one: "network", not "Network+", whose mark the
        # tokens drop.
        first = b if _plain(b) and not _plain(a) else a
    merged_senses = "; ".join(dict.fromkeys(senses))
    # A spelling carried from an earlier merge was a named kind's then; a row's own
    # spelling is checked with the row's own kind.
    carried = [spelling for spelling in (a.settled_as, b.settled_as) if spelling]
    rows = [e.term for e in (a, b) if e.networking and e.kind in _NAMED_KINDS]
    settled_as = next((spelling for spelling in (*carried, *rows) if _settles(spelling, merged_senses)), "")
    return Entry(
        first.term,
        first.kind,
        first.domain,
        a.topics | b.topics,
        merged_senses,
        "; ".join(dict.fromkeys(s for s in (a.source, b.source) if s)),
        first.key,
        spelled_alike,
        "" if spelled_alike else settled_as,
    )


# The kinds of entries that name one piece of software or one product: the names a
# capitalized spelling with a version number can settle ("BIRD 2.0.11", "KinD v0.20").
_NAMED_KINDS = frozenset(
    "daemon tool os platform library framework app product service vendor cni proxy ingress "
    "service-mesh".split()
)
# Senses that say the spelling has other expansions: the capitals settle nothing then.
_OTHER_EXPANSIONS = re.compile(r"abbreviation|acronym|\ba name\b|expansion", re.IGNORECASE)
_MINOR_WORDS = frozenset("a an and for in of on the to with".split())


def _settles(spelling: str, senses: str) -> bool:
    """Whether a spelling tells the networking sense from the others once a release
    number follows it: one word with a capital ("BIRD", "KinD", "Suricata"), which no
    other sense shares. A sense written the same way ("EOS" is also Canon's cameras;
    "B.I.R.D."), spelled out with the same initials ("TTP": tactics, techniques and
    procedures; "TOR": the onion router), or said to be another abbreviation or a name,
    shares it."""
    if not spelling or " " in spelling or not any(map(str.isupper, spelling)):
        return False
    if _OTHER_EXPANSIONS.search(senses):
        return False
    undotted = spelling.replace(".", "")
    if re.search(rf"(?<![\w-]){re.escape(undotted)}(?![\w-])", senses.replace(".", "")):
        return False
    wanted = undotted.upper()
    # Each sense, and each part in parentheses on its own ("Hong Kong railway (Mass
    # Transit Railway)"), less a leading "also".
    parts = [p for sense in senses.split(";") for p in re.split(r"[()]", sense)]
    for part in parts:
        words = re.findall(r"[^\W\d_]+", re.sub(r"^\s*also\s+", "", part))
        every = "".join(w[0] for w in words).upper()
        major = "".join(w[0] for w in words if w.lower() not in _MINOR_WORDS).upper()
        if every.startswith(wanted) or major.startswith(wanted):
            return False
    return True


def _plain(entry: Entry) -> bool:
    """Whether the entry's term is written as its tokens are (no marks the tokens drop)."""
    return entry.term.lower() == entry.key


def read_entries(path: Path, topics: frozenset[str] | None = None) -> Iterable[Entry]:
    """The entries of one TSV file; errors name the file, the line and the field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the lexicon ({exc})") from exc
    shared: dict[str, str] = {}
    topic_sets: dict[str, frozenset[str]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#") or (number == 1 and line.startswith("term\t")):
            continue
        fields = line.split("\t")
        if len(fields) != len(COLUMNS) or not fields[0].strip():
            raise ModelError(
                f"{path}, line {number}: expected {len(COLUMNS)} tab-separated fields "
                f"({', '.join(COLUMNS)}), found {len(fields)}"
            )
        term, kind, domain, topic_field, senses, source = map(str.strip, fields)
        # Kinds, domains, senses, sources and topic sets repeat thousands of times: one
        # object each, shared (the lexicon lives in every parser process).
        kind, domain, senses, source = map(
            shared.setdefault, (kind, domain, senses, source), (kind, domain, senses, source)
        )
        if domain != NETWORKING and not domain.startswith("general:"):
            raise ModelError(
                f"{path}, line {number}: domain {domain!r} is neither networking nor general:AREA"
            )
        named = topic_sets.get(topic_field)
        if named is None:
            named = frozenset(t.strip() for t in topic_field.split(",") if t.strip() not in ("", "-"))
            topic_sets[topic_field] = named
        if topics is not None and named - topics:
            raise ModelError(
                f"{path}, line {number}: unknown topics {sorted(named - topics)}; "
                f"the topics are those of models/topics.yaml"
            )
        key = " ".join(tokens(term))
        yield Entry(term, kind, domain, named, "" if senses in ("", "-") else senses, source, key)


@dataclass(frozen=True)
class Found:
    """What the lexicon recognizes in one post."""

    networking: tuple[Entry, ...]  # unambiguous networking entries (or written exactly)
    ambiguous: tuple[Entry, ...]  # networking entries with other senses, not settled
    general: tuple[Entry, ...]  # general-computing entries without other senses

    @property
    def in_context(self) -> bool:
        """Ambiguous networking terms count when an unambiguous one stands beside them."""
        return bool(self.networking)

    @property
    def counted(self) -> tuple[Entry, ...]:
        """The networking entries that count as evidence."""
        return self.networking + self.ambiguous if self.networking else ()

    @cached_property
    def topic_keys(self) -> dict[str, frozenset[str]]:
        """The settled networking entries that point to topics: key -> topics. (An
        ambiguous word is evidence of networking beside a settled one, but too weak for a
        topic: "community" in "the open-source community" is no BGP.)"""
        return {e.key: e.topics for e in self.networking if e.topics}

    @cached_property
    def topic_counts(self) -> dict[str, int]:
        """Topic -> how many terms (distinct entries) are evidence of it."""
        return {topic: len(terms) for topic, terms in self.topics.items()}

    @cached_property
    def topics(self) -> dict[str, list[str]]:
        """Topic -> the terms (as written in the lexicon) that are evidence of it."""
        found: dict[str, list[str]] = {}
        for entry in self.networking:
            for topic in entry.topics:
                found.setdefault(topic, []).append(entry.term)
        return found


_SETTLED, _AMBIGUOUS, _EXACT, _GENERAL, _GENERAL_EXACT, _IDLE, _AMBIGUOUS_UNLESS_VERSIONED = range(7)
NOTHING = Found((), (), ())  # what a post that names nothing the lexicon knows has


@dataclass(frozen=True)
class Lexicon:
    entries: dict[str, Entry]  # " ".join(tokens(term)) -> entry
    embedded: dict[str, str] = field(default_factory=dict)  # name found inside words -> key

    @classmethod
    def load(
        cls, directory: Path = LEXICON_DIR, topics: frozenset[str] | None = None, extra: Iterable[Entry] = ()
    ) -> Lexicon:
        """The lexicon of a directory's TSV files, and extra entries (the taxonomy's
        keywords: their topics join the entries of the same terms)."""
        files = sorted(directory.glob("*.tsv"))
        if not files:
            raise ModelError(f"{directory}: no lexicon (*.tsv) found")
        entries: list[Entry] = []
        embedded: dict[str, str] = {}
        for path in files:
            if path.name == "embedded.tsv":
                embedded.update(read_embedded(path))
            else:
                entries.extend(read_entries(path, topics))
        lexicon = cls.of(entries, embedded, extra)
        missing = sorted(key for key in lexicon.embedded.values() if key not in lexicon.entries)
        if missing:
            raise ModelError(f"{directory / 'embedded.tsv'}: names no lexicon entry has: {missing}")
        return lexicon

    @classmethod
    def of(
        cls, entries: Iterable[Entry], embedded: dict[str, str] | None = None, extra: Iterable[Entry] = ()
    ) -> Lexicon:
        """A lexicon of entries; the same term twice makes one entry (merge()). extra: the
        taxonomy's keywords, whose topics join the entry of their term, and its excluded
        phrases, entries of their own where the lexicon has no entry for them."""
        by_key: dict[str, Entry] = {}
        for entry in [*entries, *extra]:
            key = entry.key or " ".join(tokens(entry.term))
            # Single letters ("s" from "router's"), bare numbers ("/64" is the token "64",
            # as in "64 GB") and terms that begin with a mark tokens drop (".local" would
            # be every "local") would match what they are not: never terms.
            if len(key) < 2 or key.replace(" ", "").isdigit() or not entry.term[:1].isalnum():
                continue
            known = by_key.get(key)
            if known is None:
                by_key[key] = entry if entry.key == key else replace(entry, key=key)
            elif entry.kind == "keyword":
                by_key[key] = replace(known, topics=known.topics | entry.topics)
            elif entry.kind != "phrase":
                by_key[key] = merge(known, replace(entry, key=key))
        return cls(by_key, {k.lower(): " ".join(tokens(v)) for k, v in (embedded or {}).items()})

    def within(self, found: Found, words: list[str]) -> Found:
        """What of a post's findings its first words (its title) name: the entries whose
        words they have, found the way find() finds them (plurals, compounds, names inside
        words, phrases), without looking everything up again."""
        if found is NOTHING or not words:
            return NOTHING
        present = set(words)
        present.update(*filter(None, map(self._resolved, present)))
        present.update(self._plurals[w] for w in present & self._plural_keys)
        text = f" {' '.join(words)} "

        def named(entry: Entry) -> bool:
            return entry.key in present if " " not in entry.key else f" {entry.key} " in text

        return Found(
            tuple(filter(named, found.networking)),
            tuple(filter(named, found.ambiguous)),
            tuple(filter(named, found.general)),
        )

    def indexed(self) -> Lexicon:
        """The lexicon with its indexes built now, not on first use (before a fork, so
        that the workers share them)."""
        for name in ("_words", "_plurals", "_plural_keys", "_phrases", "_phrase_pairs", "_sorts"):
            getattr(self, name)
        return self

    # -- matching (the hot path: set operations in C first, Python for the few hits) ------

    @cached_property
    def _sorts(self) -> dict[str, int]:
        """How each key's entry counts (_SETTLED, _AMBIGUOUS, _AMBIGUOUS_UNLESS_VERSIONED,
        _EXACT, _GENERAL, _GENERAL_EXACT, _IDLE), worked out once."""
        sorts: dict[str, int] = {}
        for key, entry in self.entries.items():
            if entry.networking:
                if not entry.senses:
                    sort = _SETTLED
                elif entry.exact is not None:
                    sort = _EXACT
                else:
                    sort = _AMBIGUOUS_UNLESS_VERSIONED if entry.settled_as else _AMBIGUOUS
            elif not entry.senses:
                sort = _GENERAL
            else:
                # A name with other senses counts written as the name: "Rust", "Go", "Swift".
                sort = _GENERAL_EXACT if any(c.isupper() for c in entry.term) else _IDLE
            sorts[key] = sort
        return sorts

    @cached_property
    def _words(self) -> frozenset[str]:
        return frozenset(k for k in self.entries if " " not in k)

    @cached_property
    def _plurals(self) -> dict[str, str]:
        return {w + "s": w for w in self._words if w[-1].isalpha() and w + "s" not in self.entries}

    @cached_property
    def _plural_keys(self) -> frozenset[str]:
        return frozenset(self._plurals)

    @cached_property
    def _phrases(self) -> dict[str, tuple[str, ...]]:
        """The keys of phrases by their first two words ("show ip"). Indexed by pairs of
        words, a post is only checked for the phrases that start with a pair of words it
        has, side by side; thousands of commands start with "show"."""
        pairs: dict[str, list[str]] = {}
        for key in sorted(self.entries):
            if " " in key:
                first, second = key.split()[:2]
                pairs.setdefault(f"{first} {second}", []).append(key)
        return {pair: tuple(found) for pair, found in pairs.items()}

    @cached_property
    def _phrase_pairs(self) -> frozenset[str]:
        return frozenset(self._phrases)

    @cached_property
    def _embedded_pattern(self) -> re.Pattern[str] | None:
        if not self.embedded:
            return None
        names = sorted(self.embedded, key=lambda n: (-len(n), n))
        return re.compile("|".join(map(re.escape, names)))

    def _resolve(self, word: str) -> tuple[str, ...]:
        """The keys a token stands for besides its own: the interface a router's or
        switch's interface name belongs to ("gi0/1", "ge-0/0/0.0"; see _interface), the
        parts of a compound ("bgp-evpn": bgp, evpn; "ospf/is-is": ospf, is-is), and the
        protocols whose names it embeds ("gobgp": bgp; "kubeconfig", "kube-vip":
        kubernetes)."""
        if word[-1:].isdigit():
            family = _interface(word)
            if family is not None and family in self.entries:
                return (family,)
        found: list[str] = []
        if "-" in word or "/" in word:
            joined = word.replace("-", " ").replace("/", " ")
            if joined in self.entries:  # "route-reflector" is "route reflector"
                return (joined,)
            for part in word.split("/") if "/" in word else word.split("-"):
                if part in self.entries:
                    found.append(part)
                elif "-" in part:
                    found.extend(p for p in part.split("-") if p in self.entries)
                if part and "-" not in part:
                    found.extend(self._inside(part))
        else:
            found.extend(self._inside(word))
        return tuple(k for k in dict.fromkeys(found) if k != word)

    def _inside(self, word: str) -> list[str]:
        pattern = self._embedded_pattern
        if pattern is None or len(word) < 4:
            return []
        return [self.embedded[m] for m in pattern.findall(word)]

    @cached_property
    def _resolved(self) -> Callable[[str], tuple[str, ...]]:
        return Remembered(self._resolve).__getitem__

    def keys_in(self, words: list[str]) -> list[str]:
        """The keys of the entries a post's tokens (screen.tokens) name, each once, sorted.
        The longest match wins: a word that only occurs inside a phrase the lexicon knows
        ("protocol" in "protocol buffers", "multicast" in "multicast dns") is not an entry
        of its own there."""
        present = set(words)
        found = list(present & self._words)
        found += [self._plurals[p] for p in present & self._plural_keys]
        for keys in filter(None, map(self._resolved, present)):
            found.extend(keys)
        starts = self._phrase_pairs.intersection(map(" ".join, itertools.pairwise(words)))
        if starts:
            text = f" {' '.join(words)} "
            phrases = [key for pair in starts for key in self._phrases[pair] if f" {key} " in text]
            if phrases:
                found = self._outside(text, phrases, found) + phrases
        # Sorted: a set's order changes from run to run, and what is stored must not.
        return sorted(set(found))

    def _outside(self, text: str, phrases: list[str], found: list[str]) -> list[str]:
        """The keys of found less the single words that occur only inside the phrases:
        a word is counted as often as the text has it, less as often as the phrases it
        sits in do (text: the space-joined tokens, with a space at each end)."""
        inside: dict[str, int] = {}
        for phrase in phrases:
            times = text.count(f" {phrase} ")
            for word in phrase.split():
                inside[word] = inside.get(word, 0) + times
                singular = self._plurals.get(word)  # "cidrs" of "pod cidrs" is a "cidr"
                if singular is not None:
                    inside[singular] = inside.get(singular, 0) + times
        return [key for key in found if key not in inside or self._times(text, key) > inside[key]]

    def _times(self, text: str, key: str) -> int:
        """How often a single-word key occurs in text, as itself or with the -s it is
        found with ("routes" beside "static route")."""
        times = text.count(f" {key} ")
        return times + text.count(f" {key}s ") if self._plurals.get(f"{key}s") == key else times

    def find(self, words: list[str], text: str) -> Found:
        """What the post's tokens name: networking entries (settled or ambiguous) and
        general-computing ones. text: the post's text as written, for exact spellings."""
        keys = self.keys_in(words)
        if not keys:
            return NOTHING
        entries, sorts = self.entries, self._sorts
        networking: list[Entry] = []
        ambiguous: list[Entry] = []
        general: list[Entry] = []
        for key in keys:
            sort = sorts[key]
            if sort == _SETTLED:
                networking.append(entries[key])
            elif sort == _AMBIGUOUS_UNLESS_VERSIONED:
                # "BIRD 2.0.11 is out" names the daemon; "a bird", "BIRD (2024)" not.
                entry = entries[key]
                (networking if _versioned(entry.settled_as, text) else ambiguous).append(entry)
            elif sort == _AMBIGUOUS:
                ambiguous.append(entries[key])
            elif sort == _GENERAL:
                general.append(entries[key])
            elif sort in (_EXACT, _GENERAL_EXACT):
                # An acronym or a name written otherwise is the other word ("as" is not AS,
                # "rust" not Rust); a general word with other senses counts for nothing.
                entry = entries[key]
                if _written(entry.term, text):
                    (networking if sort == _EXACT else general).append(entry)
        return Found(tuple(networking), tuple(ambiguous), tuple(general))


# Interface names as routers and switches write them, a family and a slot/port number:
# Cisco's full names and their short forms ("GigabitEthernet0/1", "Gi1/0/22", "Te1/1",
# "Hu0/0/0/3", "Bundle-Ether10", "Port-channel1", NX-OS's and EOS's "Ethernet1/1"), and
# Junos's ("ge-0/0/0.0", "xe-1/2/3", "ae0.100"). No English word or general-computing name
# is spelt so (a Linux "eth0" has no slot, and a short form needs its slash). The short
# forms stand for their full names; a Junos name for Junos.
_INTERFACE_FAMILIES = frozenset(
    {
        "gigabitethernet",
        "fastethernet",
        "tengigabitethernet",
        "twentyfivegige",
        "fortygigabitethernet",
        "hundredgige",
        "fourhundredgige",
        "tengige",
        "bundle-ether",
        "port-channel",
    }
)
_SHORT_FAMILIES = {
    "gi": "gigabitethernet",
    "fa": "fastethernet",
    "te": "tengigabitethernet",
    "twe": "twentyfivegige",
    "fo": "fortygigabitethernet",
    "hu": "hundredgige",
    "eth": "ethernet",
    "ethernet": "ethernet",
    "po": "port-channel",
}
_FULL_INTERFACE = re.compile(r"([a-z]+(?:-[a-z]+)?)(\d+(?:/\d+)*(?:[.:]\d+)?)")
_SHORT_INTERFACE = re.compile(r"([a-z]+)\d+(?:/\d+)+(?:[.:]\d+)?")
_JUNOS_INTERFACE = re.compile(r"(?:ge|xe|et|fe)-\d+/\d+/\d+(?:[.:]\d+)?|ae\d+\.\d+")


def _interface(word: str) -> str | None:
    """The key of the interface family a token names ("gi0/1": gigabitethernet,
    "ge-0/0/0.0": junos), or None (a token, lower case, that ends in a digit)."""
    full = _FULL_INTERFACE.fullmatch(word)
    if full is not None and full.group(1) in _INTERFACE_FAMILIES:
        return full.group(1)
    short = _SHORT_INTERFACE.fullmatch(word)
    if short is not None and short.group(1) in _SHORT_FAMILIES:
        return _SHORT_FAMILIES[short.group(1)]
    if _JUNOS_INTERFACE.fullmatch(word):
        return "junos"
    return None


def _written(term: str, text: str) -> bool:
    """Whether text writes term as written, as a word of its own ("AS" in "AS 65000" and
    "AS65000", not in "ASA" or "LAS VEGAS"); a dot joined to its start makes it another
    name (".NET", "ASP.NET" are not IS-IS's NET)."""
    start = text.find(term)
    while start >= 0:
        end = start + len(term)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        # ".NET" and "ASP.NET" are names of their own; "...NAT" is NAT after an ellipsis.
        joined = before == "." and (start < 2 or text[start - 2] != ".")
        if not (before.isalnum() or joined or after.isalpha() or _shouted(text, start, end)):
            return True
        start = text.find(term, start + 1)
    return False


# Words that only a line of English prose has, written in capitals as a whole heading is.
_SHOUTED_WORDS = frozenset(
    "THE OF TO AND FOR WITH YOUR HOW WHY WHAT IS ARE MY OUR THIS THAT FROM YOU".split()
)


def _shouted(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] sits in a line written all in capitals ("HOW TO FIX A DENT
    IN YOUR CAR DOOR", "BIRD OF THE WEEK"): there, capitals say nothing of an acronym or
    a name. Two English words in capitals around it and no small letter tell such a line
    from a title of acronyms ("VXLAN EVPN ON NX-OS")."""
    low = max(0, start - 60)
    low = text.rfind("\n", low, start) + 1 or low
    high = min(len(text), end + 60)
    newline = text.find("\n", end, high)
    around = f"{text[low:start]} {text[end : high if newline < 0 else newline]}"
    if any(c.islower() for c in around):
        return False
    return len(_SHOUTED_WORDS.intersection(re.findall(r"[A-Z]+", around))) >= 2


# A release number after the name: three parts ("2.0.11"), or two after a word or a
# letter that says it is one ("version 2.16", "v0.20", "R81.20"); "BIRD 3.5/5" or "BIRD
# 14.5 points" (a film's rating, a player's average) or "BIRD 20.12.2024" (a date) is no
# release.
_VERSION = re.compile(
    r"[ \t]+(?:(?:[Vv]ersion|[Rr]elease)[ \t]+[vV]?\d+\.\d+|[vVR]\d+\.\d+"
    r"|(?!\d+\.\d+\.(?:19|20)\d\d\b)\d+\.\d+\.\d+)(?![\d/%])"
)


def _versioned(term: str, text: str) -> bool:
    """Whether text writes term, as a word of its own and in any case, with a release
    number after it ("BIRD 2.0.11", "bind 9.18.4", "KinD v0.20", "BIRD version 2.16",
    "GAiA R81.20", "Suricata 7.0.0"): a release of that software, not a bird, a band, a
    film or a player ("BIRD OF THE WEEK", "BIRD (2024)", "BIRD 3.5/5")."""
    for match in re.finditer(re.escape(term), text, re.IGNORECASE):
        start = match.start()
        before = text[start - 1] if start else " "
        if not (before.isalnum() or before in ".-") and _VERSION.match(text, match.end()):
            return True
    return False


def read_embedded(path: Path) -> dict[str, str]:
    """embedded.tsv: a name found inside words (lower case), and the term it stands for."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("name\t"):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or len(fields[0].strip()) < 3:
            raise ModelError(f"{path}, line {number}: expected NAME<TAB>TERM, the name 3 letters or more")
        found[fields[0].strip().lower()] = fields[1].strip()
    return found
