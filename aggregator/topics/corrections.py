"""The owner's topic corrections: add or remove topics on posts, without retraining.

corrections.yaml, beside feeds.yaml:

    - post: 3f2a9c0d1e2b4a5c6d7e          # a post id (aggregator explain shows its topics)
      add: [multicast]
    - url: "https://blog.example.net/2026/11/*"   # shell-style pattern on the post link
      remove: [bgp]

Applied on every run to the published topics (table post_topics), so removing an entry
gives posts back the model's topics; `aggregator train` folds the corrected posts into
the topic training data, so a wrong call is fixed once and learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import line_of, plain_data, read_utf8, read_yaml
from ..errors import ConfigError
from ..overrides import NOT_AN_ID, Rule


@dataclass(frozen=True)
class Correction:
    rule: Rule
    add: frozenset[str]
    remove: frozenset[str]


@dataclass(frozen=True)
class Corrections:
    items: tuple[Correction, ...] = ()
    path: str | None = None

    def topics(self, post_id: str, link: str | None, feed_url: str, given: set[str]) -> set[str] | None:
        """The corrected topics of one post, or None when no correction matches it."""
        matching = [c for c in self.items if c.rule.matches(post_id, link, feed_url)]
        if not matching:
            return None
        topics = set(given)
        for correction in matching:
            topics = (topics | correction.add) - correction.remove
        return topics


def load_corrections(path: Path, known_topics: tuple[str, ...]) -> Corrections:
    if not path.exists():
        return Corrections(path=str(path))
    data = read_yaml(read_utf8(path), str(path), numbers=False) or []
    if not isinstance(data, list):
        raise ConfigError(
            str(path), ["must be a list of corrections, each with post: or url: and add:/remove:"]
        )
    problems: list[str] = []
    items = []
    for index, entry in enumerate(data):
        where = f"line {line_of(data, index)}, entry {index + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with post: or url: and add:/remove:")
            continue
        rule = _rule(entry)
        if rule is None:
            problems.append(f"{where}: needs exactly one of post: ID or url: PATTERN")
            continue
        if not rule.whole_id():
            problems.append(f"{where}: {NOT_AN_ID.format(rule.value)}")
        lists: dict[str, frozenset[str]] = {}
        for key in ("add", "remove"):
            at = f"line {line_of(entry, key)}, entry {index + 1} {key}"
            value: Any = entry.get(key)
            if value is None:
                value = []
            elif isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                problems.append(
                    f"{at}: must be a topic or a list of topics such as [bgp], got {plain_data(value)!r}"
                )
                lists[key] = frozenset()
                continue
            unknown = [t for t in value if t not in known_topics]
            if unknown:
                problems.append(
                    f"{at}: unknown topic(s) {', '.join(map(str, unknown))}; known: {', '.join(known_topics)}"
                )
            lists[key] = frozenset(t for t in value if t in known_topics)
        extra = set(entry) - {"post", "url", "add", "remove"}
        if extra:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(extra))}; use post, url, add, remove")
        if all(entry.get(key) in (None, [], "") for key in ("add", "remove")):
            # (An add or remove that is wrong is named above, not as missing.)
            problems.append(f"{where}: nothing to add or remove")
        items.append(Correction(rule, lists["add"], lists["remove"]))
    if problems:
        raise ConfigError(str(path), problems)
    return Corrections(tuple(items), str(path))


def _rule(entry: dict[str, Any]) -> Rule | None:
    keys = [k for k in ("post", "url") if k in entry]
    if len(keys) != 1 or not isinstance(entry[keys[0]], str) or not entry[keys[0]].strip():
        return None
    value = entry[keys[0]].strip()
    return Rule(keys[0], value.lower() if keys[0] == "post" else value)
