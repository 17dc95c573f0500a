"""The owner's overrides: allow or deny posts by post id, URL pattern or feed.

overrides.yaml, beside feeds.yaml, looks like:

    allow:
      - post: 3f2a9c0d1e2b4a5c6d7e      # a post id from `aggregator dropped`
      - url: "https://blog.example.net/2026/11/*"   # shell-style pattern on the post link
    deny:
      - feed: https://hijacked.example.net/feed/   # every post of one feed
      - url: "*casino*"

Deny wins over allow when both match. Applied on every run to every post, so removing
an entry gives the post back its screening verdict.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import check_feed_url, line_of, plain_data, read_utf8, read_yaml
from .errors import ConfigError
from .urls import feed_key

KINDS = ("post", "url", "feed")

# Every post id is 20 hex digits (store.post_id). Anything else matches no post, ever:
# a prefix (which `aggregator explain` accepts) would be ignored without a word.
POST_ID = re.compile(r"[0-9a-f]{20}")
NOT_AN_ID = (
    "post: {} is not a whole post id (20 hex digits, as `aggregator dropped` prints it), "
    "so it would match no post; copy the whole id"
)

# How a post an override decided is described wherever its state is shown in words.
WORDS = {"deny": "denied by override", "allow": "allowed by override"}


def override_words(override: str | None) -> str | None:
    """The words for a post an override decided; None for one screening decided."""
    return WORDS.get(override or "")


@dataclass(frozen=True)
class Rule:
    kind: str  # post, url or feed
    value: str

    def whole_id(self) -> bool:
        """False for a post rule whose value can be no post's id (a prefix, say)."""
        return self.kind != "post" or POST_ID.fullmatch(self.value) is not None

    def matches_any_link(self) -> bool:
        """Whether a url rule matches links of any site ('*', 'http*', '*://*'): an allow
        of it publishes every spam post, a deny drops every post."""
        samples = ("https://blog.example.net/2026/11/post/", "http://192.0.2.1/feed?id=1")
        return self.kind == "url" and all(fnmatch.fnmatchcase(link, self.value) for link in samples)

    def matches(self, post_id: str, link: str | None, feed_url: str) -> bool:
        if self.kind == "post":
            return post_id == self.value
        if self.kind == "feed":  # the feed as check names it: "a b" and "a%20b", a slash
            return feed_url == self.value or _feed_key(feed_url) == _feed_key(self.value)
        return link is not None and fnmatch.fnmatchcase(link, self.value)


# Every post asks each feed rule: the keys of a run's few feed URLs, worked out once.
_feed_key = lru_cache(maxsize=4096)(feed_key)


@dataclass(frozen=True)
class Overrides:
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    path: str | None = None

    def decide(self, post_id: str, link: str | None, feed_url: str) -> str | None:
        """'deny', 'allow' or None for one post."""
        if any(rule.matches(post_id, link, feed_url) for rule in self.deny):
            return "deny"
        if any(rule.matches(post_id, link, feed_url) for rule in self.allow):
            return "allow"
        return None

    def warnings(self, feeds: Iterable[str] | None = None) -> list[str]:
        """What check should say of rules that are valid but likely not what was meant.
        feeds: the configured feed URLs, for feed rules that name none of them."""
        out = []
        if feeds is not None:
            keys = {_feed_key(url) for url in feeds}
            out += [
                f"{key} feed: {rule.value!r} names no feed in feeds.yaml, so it {verb} nothing; "
                "copy the feed's url from there"
                for key, verb, rules in (("allow", "publishes", self.allow), ("deny", "drops", self.deny))
                for rule in rules
                if rule.kind == "feed" and _feed_key(rule.value) not in keys
            ]
        for key, rules in (("allow", self.allow), ("deny", self.deny)):
            what = "publishes every post, spam included" if key == "allow" else "drops every post"
            out += [
                f"{key} url: {rule.value!r} matches the links of every site, so it {what}; "
                "name the site, such as 'https://blog.example.net/*'"
                for rule in rules
                if rule.matches_any_link()
            ]
        return out

    def __bool__(self) -> bool:
        return bool(self.allow or self.deny)


def load_overrides(path: Path) -> Overrides:
    """Read overrides.yaml; a missing file means no overrides."""
    if not path.exists():
        return Overrides(path=str(path))
    data = read_yaml(read_utf8(path), str(path), numbers=False) or {}
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["must be a mapping with 'allow:' and/or 'deny:' lists"])
    rules: dict[str, list[Rule]] = {"allow": [], "deny": []}
    for key, items in data.items():
        if key not in rules:
            problems.append(f"line {line_of(data, key)}: unknown key '{key}'; use allow: or deny:")
            continue
        if items is not None and not isinstance(items, list):
            # A bare value would be read letter by letter, or not at all.
            problems.append(
                f"line {line_of(data, key)}, {key}: must be a list of entries such as '- post: ID', "
                f"got {items!r}"
            )
            continue
        for index, item in enumerate(items or []):
            rule = _rule(item)
            if rule is None:
                problems.append(
                    f"line {line_of(items, index)}, {key}[{index}]: expected one of post: ID, "
                    f"url: PATTERN or feed: URL, got {plain_data(item)!r}"
                )
            elif not rule.whole_id():
                problems.append(
                    f"line {line_of(items, index)}, {key}[{index}]: {NOT_AN_ID.format(rule.value)}"
                )
            elif rule.kind == "feed" and (why := check_feed_url(rule.value)) is not None:
                problems.append(f"line {line_of(items, index)}, {key}[{index}] feed: {why}")
            else:
                rules[key].append(rule)
    if problems:
        raise ConfigError(str(path), problems)
    return Overrides(tuple(rules["allow"]), tuple(rules["deny"]), str(path))


def _rule(item: Any) -> Rule | None:
    if not isinstance(item, dict) or len(item) != 1:
        return None
    kind, value = next(iter(item.items()))
    if kind not in KINDS or not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return Rule(kind, value.lower() if kind == "post" else value)
