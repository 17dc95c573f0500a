"""Load and validate feeds.yaml once, reporting every problem with its line and a fix."""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from .addresses import AddressPolicy, parse_allow_entry
from .errors import ConfigError
from .feedstatus import LONGEST_WAIT
from .langtags import primary_language
from .types import (
    Config,
    DigestConfig,
    FeedConfig,
    FeedKind,
    FetchSettings,
    Frequency,
    SiteConfig,
    SmtpSettings,
    Subscriber,
)
from .urls import feed_key, host_name, idna_problem, without_userinfo

DEFAULT_CONFIG = "feeds.yaml"
DEFAULT_DATABASE = "aggregator.db"

TOP_KEYS = ("site", "languages", "fetch", "feeds", "database", "digest")
DIGEST_KEYS = ("from", "smtp", "subscribers", "unsubscribe")
SMTP_KEYS = ("host", "port", "security", "username", "password_env", "timeout", "ca_file")
SUBSCRIBER_KEYS = ("email", "name", "topics", "frequency", "day", "hour")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SITE_KEYS = ("title", "url", "description", "output", "per_page", "podcast_image", "search_posts")
FETCH_KEYS = (
    "concurrency",
    "per_host",
    "timeout",
    "deadline",
    "max_bytes",
    "max_redirects",
    "allow_private_addresses",
    "user_agent",
    "parse_workers",
    "max_fresh_wait",
)
FEED_KEYS = ("url", "name", "kind", "language", "topics", "allow_private_addresses")


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _List(list[Any]):
    line: int = 0
    item_lines: list[int]


# libyaml's parser when PyYAML has it (ten times faster on a long feed list); both
# report the line of every node, which is all the validation needs.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_MERGE = "tag:yaml.org,2002:merge"
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class _LineLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's, remembering how many keys each mapping took from merges (they come
        first): a mapping flattened as a merge's value before it is built, and one
        aliased again, are flattened once and keep their count."""
        merged: dict[int, int] = self.__dict__.setdefault("_merged", {})
        if id(node) in merged:
            return
        written = sum(1 for key, _ in node.value if key.tag != _MERGE)
        super().flatten_mapping(node)
        merged[id(node)] = len(node.value) - written


class _TextLoader(_LineLoader):
    """_LineLoader reading numbers as the text they are written as: overrides.yaml and
    corrections.yaml hold ids, patterns and topics only, and a post id of digits alone
    (one in 12,000) read as a number lost its leading zeros, or was not taken at all."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in _LineLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    # A key written twice in this mapping is refused; a key a merge (<<: *anchor) brings
    # in is the anchor's, and one written here overrides it, as YAML says.
    loader.flatten_mapping(node)
    merged = loader._merged[id(node)]  # flatten_mapping puts the merged keys first
    result = _Mapping()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            key = str(key)
        if key in result and index >= merged and result.key_lines[key] >= 0:
            raise _DuplicateKey(key, result.key_lines[key], line)
        result[key] = loader.construct_object(value_node, deep=True)
        # A merged key's line is its anchor's: remembered negated, so a key written here
        # may replace it without counting as written twice.
        result.key_lines[key] = line if index >= merged else -line
    for key, line in result.key_lines.items():
        result.key_lines[key] = abs(line)
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _List:
    result = _List(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


# An integer as people write one: YAML 1.1 also reads "010" as octal 8, "0x1A" as 26 and
# "7:30" as 450 (base 60), which no one means in a configuration ("hour: 010" sent the
# digest at 08:00). Those stay the text they are, which the field's check refuses.
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int | str:
    text = str(loader.construct_scalar(node))
    return int(text.replace("_", "")) if _DECIMAL.fullmatch(text) else text


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor(_INT, _construct_int)


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: int, second: int) -> None:
        self.key, self.first, self.second = key, first, second


@dataclass
class _Problems:
    path: str
    items: list[str]

    def add(self, line: int, where: str, message: str) -> None:
        """A problem at line (0: a command-line option, which has none)."""
        message = without_userinfo(message) or message  # a feed's password stays out of logs
        self.items.append(f"line {line}, {where}: {message}" if line else f"{where}: {message}")


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key '{key}'; {hint}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite number (YAML's .nan and .inf are floats too)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_feed_url(url: Any, what: str = "only http:// and https:// feeds can be fetched") -> str | None:
    """Return why a feed URL is unusable, or None. what: why the URL must be http(s)."""
    if not isinstance(url, str) or not url.strip():
        return "must be a non-empty string such as https://example.net/feed.xml"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"'{_unparsed(url)}' is not a valid URL ({exc}); write it as https://host[:port]/path"
    if parts.scheme not in ("http", "https"):
        return f"'{url}' is not an http(s) URL; {what}"
    if not parts.hostname:
        return f"'{url}' has no host name"
    if not url.strip().isprintable():
        return f"'{url}' has a line break or a control character in it; remove it"
    if host_name(parts.hostname) is None:
        return f"'{url}': '{parts.hostname}' cannot be a host name; write the host as it is registered"
    if problem := idna_problem(parts.hostname):  # one the fetcher cannot encode fails every run
        return f"'{url}' is not a valid URL ({problem}); write the host name as it is registered"
    return None


def _unparsed(url: str) -> str:
    """A URL no parser reads, quoted without anything before the last @ of what would be
    its host: a password written with a raw # or ? (which makes the URL invalid) must not
    reach a message either."""
    scheme, sep, rest = url.strip().partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}" if sep else url


def _database_clash(db_path: Path, config_path: Path) -> str | None:
    """Why db_path cannot be the database: it is the configuration, a file beside it that
    the owner writes (overrides.yaml, corrections.yaml), or a folder. Opened as a database,
    such a file would be refused, or, when empty, made into one."""
    target = db_path.resolve()
    folder = config_path.resolve().parent
    owned = {config_path.resolve(): "the configuration itself"}
    owned |= {folder / n: n for n in ("overrides.yaml", "corrections.yaml")}
    if target in owned:
        return (
            f"{db_path} is {owned[target]}, not a database; name a file of its own, "
            f"such as {DEFAULT_DATABASE}"
        )
    if target.is_dir():
        return f"{db_path} is a folder; name a file in it, such as {Path(db_path) / DEFAULT_DATABASE}"
    return None


def check_site_url(url: Any) -> str | None:
    """Return why a URL cannot be the site's own address (site.url), or None. Every
    published link starts with it: a password in it would be published, and a query or
    a fragment would end up in the middle of every link."""
    reason = check_feed_url(url, "the site is published at an http:// or https:// address")
    if reason:
        return reason
    parts = urlsplit(str(url).strip())
    if parts.username is not None or parts.password is not None:
        return (
            "has a user name or password in it, which every published link would carry; write the "
            f"site's public address without them, such as {without_userinfo(str(url).strip())}"
        )
    if re.search(r"%(?![0-9A-Fa-f]{2})", parts.path):
        return f"'{url}' has a % that starts no escape (%20, %C3%A9); write % itself as %25"
    if re.search(r"\.(html?|php|xml|aspx?)$", parts.path, re.IGNORECASE):
        return (
            f"'{url}' names a page; write the folder the site is served from "
            f"(every page and feed is published under it), such as {url.rsplit('/', 1)[0]}/"
        )
    if parts.query or parts.fragment or str(url).strip().endswith(("?", "#")):
        return (
            f"'{url}' has a query (?...) or a fragment (#...); write the folder the site is served "
            "from, such as https://planet.example.net/ or https://example.net/planet/"
        )
    return None


def site_address(url: str) -> str:
    """site.url as every published link starts: host in lower case (punycode for a
    non-ASCII name), path percent-encoded, ending in a slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = host_name(parts.hostname) or (parts.hostname or "")
    if parts.port is not None and (scheme, parts.port) not in (("http", 80), ("https", 443)):
        netloc += f":{parts.port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    return urlunsplit((scheme, netloc, path if path.endswith("/") else path + "/", "", ""))


def unknown_topics(config: Config, known: set[str] | frozenset[str], subscribers: bool = True) -> list[str]:
    """Problems for the topic names feeds.yaml uses that the taxonomy has not: each
    feed's topic hints and (with subscribers) each digest subscriber's topics, with
    their lines."""
    topics = ", ".join(sorted(known))
    problems = [
        f"line {f.line}: feed {f.name}: unknown topic {t!r}; the topics are {topics}"
        for f in config.feeds
        for t in f.topics
        if t not in known
    ]
    if subscribers and config.digest is not None:
        problems += [
            f"line {s.line}: digest subscriber {s.email}: unknown topic {t!r}; "
            f"the topics are {topics}, or all"
            for s in config.digest.subscribers
            for t in s.topics
            if t not in known
        ]
    return problems


def load_config(path: str | os.PathLike[str], database: str | None = None) -> Config:
    """Read and validate a configuration file. Raises ConfigError listing every problem."""
    file = Path(path)
    name = str(file)
    try:
        text = read_utf8(file)
    except FileNotFoundError:
        raise ConfigError(name, ["file not found; pass --config PATH or set AGGREGATOR_CONFIG"]) from None
    except OSError as exc:
        raise ConfigError(name, [f"cannot read the file: {exc}"]) from exc
    return parse_config(text, name, database)


def read_utf8(path: Path) -> str:
    """The text of one of the owner's files (feeds.yaml, overrides.yaml, corrections.yaml);
    text that is not UTF-8, or a file that cannot be read, is a ConfigError naming the
    line or the reason, and the fix."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise  # each caller says what a missing file means
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a folder, not a file; move it away or make it a file"]) from None
    except OSError as exc:
        raise ConfigError(
            str(path),
            [f"cannot be read ({exc.strerror or exc}); make it readable by the user the runs go as"],
        ) from None
    except UnicodeDecodeError as exc:
        if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Notepad's "Unicode"
            raise ConfigError(
                str(path),
                [
                    "saved as UTF-16; save it as UTF-8 (an editor's 'Save with encoding', "
                    "or iconv -f utf-16 -t utf-8)"
                ],
            ) from None
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [
                f"line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                "save the file as UTF-8 (an editor's 'Save with encoding', or iconv -f latin1 -t utf-8)"
            ],
        ) from None


def plain_data(value: Any) -> Any:
    """A value as read_yaml read it, without the line-keeping types (for messages)."""
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_data(v) for v in value]
    return value


def read_yaml(text: str, name: str, numbers: bool = True) -> Any:
    """YAML whose mappings and lists know the line of each key and item (line_of); a
    key given twice, or text that is not YAML, is a ConfigError naming the line.
    numbers=False: digits are read as text (ids), not as numbers."""
    try:
        data = yaml.load(text, Loader=_LineLoader if numbers else _TextLoader)
    except RecursionError:
        raise ConfigError(name, ["nested too deeply to be a configuration; flatten it"]) from None
    except _DuplicateKey as dup:
        raise ConfigError(
            name,
            [f"line {dup.second}: key '{dup.key}' appears twice (first on line {dup.first}); keep one"],
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other C0)
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(
            name,
            [
                f"line {line}: a control character (U+{exc.character:04X}) YAML does not allow; "
                "remove it (a file saved in another encoding, or binary, shows so)"
            ],
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        unclosed = any(w in str(getattr(exc, "context", "")) for w in ("quoted scalar", "flow"))
        runs_to_end = mark is not None and (mark.line >= len(text.splitlines()) or mark.index >= len(text))
        if mark is not None and context is not None and runs_to_end:
            # A problem found at the end of the file (an unclosed quote or bracket, a
            # last key without its colon): the line where it began is the one to look at.
            mark = context
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = " ".join((getattr(exc, "problem", None) or str(exc)).split())
        if context is not None and mark is context and unclosed:
            opened = re.sub(
                r"^while (scanning|parsing) ", "", " ".join(str(getattr(exc, "context", "")).split())
            )
            problem = f"{opened} opened here is not closed"
        fix = "check indentation and quoting"
        row = (text.splitlines()[mark.line : mark.line + 1] or [""])[0] if mark is not None else ""
        if mark is not None and row[mark.column : mark.column + 1] == "\t":
            # libyaml's "found character that cannot start any token" does not say which.
            problem = f"a tab character at column {mark.column + 1}"
            fix = "YAML indents with spaces only: replace the tab with spaces"
        raise ConfigError(name, [f"{where}not valid YAML ({problem}); {fix}"]) from exc
    # A value written out takes two characters at least ("- a"): what the text cannot
    # hold written out came from aliases (*name, and the merges <<: *name).
    if _expands_past(data, MAX_VALUES + len(text) // 2):
        # Aliases share their values, so such a file loads small; every message, check
        # or copy that walked it would not (a "billion laughs" of nested aliases).
        raise ConfigError(
            name,
            [
                f"its aliases (*name, <<: *name), expanded, add more than {MAX_VALUES:,} values; "
                "write the values out instead of nesting aliases"
            ],
        )
    return data


MAX_VALUES = 100_000


def _expands_past(data: Any, limit: int) -> bool:
    """Whether data, its aliases expanded, holds more than limit values (stops counting there)."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _yaml_bool(value: Any) -> str:
    """The fix when YAML read a language code as true or false (no: Norwegian)."""
    if isinstance(value, bool):
        return "; YAML reads no, yes, on and off as true or false: put the code in quotes, 'no'"
    return ""


def _shown(value: Any) -> str:
    """A value for a message, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def line_of(node: Any, key: str | int | None = None) -> int:
    """The line of a mapping's key or a list's item (of the node itself without one),
    as read_yaml found it; 0 when unknown."""
    if isinstance(node, _Mapping):
        return node.key_lines.get(str(key), node.line) if key is not None else node.line
    if isinstance(node, _List):
        if isinstance(key, int) and 0 <= key < len(node.item_lines):
            return node.item_lines[key]
        return node.line
    return 0


def parse_config(text: str, name: str, database: str | None = None) -> Config:
    data = read_yaml(text, name)
    problems = _Problems(name, [])
    if not isinstance(data, _Mapping):
        raise ConfigError(name, ["the file must be a mapping with at least a 'feeds:' list"])

    for key in data:
        if key not in TOP_KEYS:
            problems.add(data.key_lines[key], "top level", _unknown_key(key, TOP_KEYS))

    site = _site(data, problems)
    languages = _languages(data, problems)
    fetch = _fetch(data, problems)
    feeds = _feeds(data, problems)
    digest = _digest(data, problems)

    given = data.get("database")
    if database is not None and not database.strip():
        # `--db "$DB"` with DB unset would otherwise split the data into a second database
        # in whatever folder the command runs from.
        problems.add(
            0,
            "--db",
            "is empty; give the database's path, or leave --db out to use the one feeds.yaml names",
        )
        database = None
    db_value = database or given or DEFAULT_DATABASE
    if not isinstance(db_value, str) or (
        "database" in data and not database and not str(given or "").strip()
    ):
        # An empty value is a path left out, not the default: say so rather than guess.
        problems.add(
            data.key_lines.get("database", 0),
            "database",
            f"must be a file path such as {DEFAULT_DATABASE} (or leave the key out for that default)",
        )
        db_value = DEFAULT_DATABASE
    if database is None:
        db_path = _home(Path(db_value), data.key_lines.get("database", 0), "database", problems)
    else:  # --db or AGGREGATOR_DB: not the file's to answer for
        db_path = _expanded(db_value)
    if not db_path.is_absolute() and database is None:
        # Relative to the config file, not the working directory: cron starts in $HOME.
        db_path = Path(name).resolve().parent / db_path
    if clash := _database_clash(db_path, Path(name)):
        problems.add(data.key_lines.get("database", 0) if database is None else 0, "database", clash)

    site_raw = data.get("site")
    output_line = site_raw.key_lines.get("output", 0) if isinstance(site_raw, _Mapping) else 0
    output = _home(Path(site.output), output_line, "site.output", problems)
    if not output.is_absolute():
        output = Path(name).resolve().parent / output
    site = replace(site, output=str(output.resolve()))
    # The file's own database only: one given by --db or AGGREGATOR_DB is not the file's
    # to answer for (build refuses it, naming it).
    clash = output_clash(Path(site.output), Path(name), db_path if database is None else None)
    if clash:
        problems.add(output_line, "site.output", clash)
    if digest is not None and digest.smtp.ca_file:
        digest = replace(digest, smtp=_ca_file(digest.smtp, name, data, problems))

    if problems.items:
        raise ConfigError(name, problems.items)
    return Config(
        path=name,
        site=replace(site, language=languages[0] if len(languages) == 1 else ""),
        languages=languages,
        fetch=fetch,
        feeds=tuple(feeds),
        database=str(db_path.resolve()),
        digest=digest,
    )


def output_clash(output: Path, config_path: Path, database: Path | None) -> str | None:
    """Why the site cannot be built into output: a build replaces the folder's whole
    contents, so it must not hold the configuration or the database."""
    output = output.resolve()
    for what, path in (("the configuration", config_path), ("the database", database)):
        if path is None:
            continue
        path = path.resolve()
        if path == output or output in path.parents:
            return (
                f"{output} holds {what} ({path}), and a build replaces the whole folder: give the "
                "site a folder of its own, apart from feeds.yaml and the database"
            )
    return None


def _site(data: _Mapping, problems: _Problems) -> SiteConfig:
    raw = data.get("site")
    if raw is None:
        return SiteConfig()
    if not isinstance(raw, _Mapping):
        problems.add(data.key_lines["site"], "site", "must be a mapping with 'title' and 'url'")
        return SiteConfig()
    for key in raw:
        if key not in SITE_KEYS:
            problems.add(raw.key_lines[key], "site", _unknown_key(key, SITE_KEYS))
    title = raw.get("title", SiteConfig.title)
    if not isinstance(title, str) or not title.strip():
        problems.add(raw.key_lines.get("title", raw.line), "site.title", "must be a non-empty string")
        title = SiteConfig.title
    url = raw.get("url", SiteConfig.url)
    reason = check_site_url(url)
    if reason:
        problems.add(raw.key_lines.get("url", raw.line), "site.url", reason)
        url = SiteConfig.url
    description = raw.get("description", SiteConfig.description)
    if not isinstance(description, str):
        problems.add(raw.key_lines.get("description", raw.line), "site.description", "must be a string")
        description = SiteConfig.description
    output = raw.get("output", SiteConfig.output)
    if not isinstance(output, str) or not output.strip():
        problems.add(
            raw.key_lines.get("output", raw.line), "site.output", "must be a folder path, such as public"
        )
        output = SiteConfig.output
    per_page = raw.get("per_page", SiteConfig.per_page)
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 5 <= per_page <= 1000:
        problems.add(
            raw.key_lines.get("per_page", raw.line), "site.per_page", "must be a whole number from 5 to 1000"
        )
        per_page = SiteConfig.per_page
    search_posts = raw.get("search_posts", SiteConfig.search_posts)
    if (
        isinstance(search_posts, bool)
        or not isinstance(search_posts, int)
        or not 0 <= search_posts <= 1_000_000
    ):
        problems.add(
            raw.key_lines.get("search_posts", raw.line),
            "site.search_posts",
            "must be a whole number from 0 (no search) to 1000000",
        )
        search_posts = SiteConfig.search_posts
    podcast_image = raw.get("podcast_image", SiteConfig.podcast_image)
    reason = check_podcast_image(podcast_image)
    if reason:
        problems.add(raw.key_lines.get("podcast_image", raw.line), "site.podcast_image", reason)
        podcast_image = SiteConfig.podcast_image
    other_host = re.match(r"//[^/]*[.:]", podcast_image.strip()) is not None  # //cdn.example.net/...
    if not urlsplit(podcast_image.strip()).scheme and not other_host:
        # A path under site.url, as the docs say, also when written with a leading slash:
        # joined to the host's root it would miss a site served from a folder. (//host/...
        # is a URL on another host.)
        podcast_image = podcast_image.strip().lstrip("/")
    return SiteConfig(
        title=title.strip(),
        url=site_address(str(url)),
        output=output.strip(),
        per_page=per_page,
        description=description.strip(),
        podcast_image=podcast_image.strip(),
        search_posts=search_posts,
    )


def check_podcast_image(value: Any) -> str | None:
    """Return why site.podcast_image cannot be the podcast artwork, or None."""
    if not isinstance(value, str) or not value.strip():
        return "must be an image URL or a path under the site, such as static/podcast.png"
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"'{value}' is not a valid URL ({exc}); write it as https://host[:port]/path"
    if parts.scheme and parts.scheme not in ("http", "https"):
        return f"'{value}' is not an http(s) URL; podcast directories fetch the artwork over http(s)"
    if parts.scheme and not parts.hostname:
        return f"'{value}' has no host name"
    if not parts.path.lower().endswith((".png", ".jpg", ".jpeg")):
        return (
            f"'{value}' is not a .png or .jpg file; podcast directories take square PNG or JPEG"
            " artwork, 1400x1400 to 3000x3000 pixels"
        )
    return None


def _languages(data: _Mapping, problems: _Problems) -> tuple[str, ...]:
    raw = data.get("languages", ["en"])
    line = data.key_lines.get("languages", 0)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        problems.add(line, "languages", "must be a list of language codes such as [en]")
        return ("en",)
    out = []
    for item in raw:
        # "eng" and "deu" are "en" and "de", the codes screening names a post's language by.
        code = primary_language(item) if isinstance(item, str) and item.strip().isalpha() else None
        if code is None:
            problems.add(
                line, "languages", f"'{item}' is not an ISO 639-1 code such as en, de, fr{_yaml_bool(item)}"
            )
        else:
            out.append(code)
    return tuple(dict.fromkeys(out)) or ("en",)  # [en, eng] is one language


# The whole numbers of fetch: and their bounds. Past these a setting only costs: a
# thousand sockets is what a process may open (per_host counts within it; a planet whose
# feeds all live on its own server may ask it for many at once), and a billion per_host
# held the run lock for minutes building connection pools.
FETCH_COUNTS = {
    "concurrency": (1, 1000),
    "per_host": (1, 1000),
    "max_redirects": (0, 20),
    "parse_workers": (0, 64),
}


def _fetch(data: _Mapping, problems: _Problems) -> FetchSettings:
    raw = data.get("fetch")
    if raw is None:
        return FetchSettings()
    if not isinstance(raw, _Mapping):
        problems.add(data.key_lines["fetch"], "fetch", "must be a mapping such as {per_host: 2}")
        return FetchSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        line = raw.key_lines[key]
        where = f"fetch.{key}"
        if key not in FETCH_KEYS:
            problems.add(line, "fetch", _unknown_key(key, FETCH_KEYS))
        elif key in FETCH_COUNTS:
            low, high = FETCH_COUNTS[key]
            if not _is_int(value) or not low <= value <= high:
                problems.add(line, where, f"must be a whole number from {low} to {high}, not {_shown(value)}")
            else:
                values[key] = value
        elif key == "max_bytes":
            if not _is_int(value) or value < 1024:
                problems.add(line, where, f"must be a number of bytes >= 1024, not {value!r}")
            else:
                values[key] = value
        elif key in ("timeout", "deadline"):
            if not _is_number(value) or value <= 0:
                problems.add(line, where, f"must be a number of seconds > 0, not {value!r}")
            else:
                values[key] = float(value)
        elif key == "max_fresh_wait":
            if not _is_number(value) or not 0 <= value <= LONGEST_WAIT.total_seconds():
                problems.add(
                    line,
                    where,
                    f"must be a number of seconds from 0 (fetch every run) to "
                    f"{LONGEST_WAIT.total_seconds():.0f} (a week), not {value!r}",
                )
            else:
                values[key] = float(value)
        elif key == "user_agent":
            if not isinstance(value, str) or not value.strip() or "\n" in value or "\r" in value:
                problems.add(line, where, "must be a one-line string")
            elif not (value.isascii() and value.isprintable()):
                # An HTTP header holds ASCII: any other letter failed every feed's request.
                odd = next(c for c in value if not (c.isascii() and c.isprintable()))
                problems.add(
                    line, where, f"must be printable ASCII (a header value), not {odd!r}: write it in ASCII"
                )
            else:
                values[key] = value.strip()
        elif key == "allow_private_addresses":
            allowed = _allow_value(value, line, where, problems)
            if allowed is not None:
                values[key] = allowed
    settings = FetchSettings(**values)
    if settings.deadline < settings.timeout:
        problems.add(
            raw.key_lines.get("deadline", raw.line),
            "fetch.deadline",
            f"({settings.deadline:g}s) is shorter than fetch.timeout ({settings.timeout:g}s); "
            "the deadline covers the whole fetch, so make it at least the timeout",
        )
    return settings


def _allow_value(value: Any, line: int, where: str, problems: _Problems) -> bool | tuple[str, ...] | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.add(line, where, "must be true, false or a list such as ['127.0.0.1:8765', '10.0.0.0/8']")
        return None
    ok = []
    for item in value:
        try:
            parse_allow_entry(str(item))
        except ValueError as exc:
            problems.add(line, where, f"{exc}")
        else:
            ok.append(str(item).strip())
    return tuple(ok)


def _feeds(data: _Mapping, problems: _Problems) -> list[FeedConfig]:
    raw = data.get("feeds")
    if raw is None and "feeds" in data:  # every entry commented out, say
        problems.add(
            data.key_lines["feeds"],
            "feeds",
            "is empty; list the feeds under it, each with url and name (or write feeds: [] for none)",
        )
        return []
    if raw is None:
        problems.add(1, "top level", "missing 'feeds:'; add a list of feeds, each with url and name")
        return []
    if not isinstance(raw, _List):
        problems.add(data.key_lines["feeds"], "feeds", "must be a list of mappings, each with url and name")
        return []
    feeds: list[FeedConfig] = []
    seen: dict[str, tuple[int, str]] = {}
    for index, (entry, line) in enumerate(zip(raw, raw.item_lines, strict=True)):
        label = f"feeds[{index}]"
        if not isinstance(entry, _Mapping):
            problems.add(line, label, "must be a mapping with at least url and name")
            continue
        if isinstance(entry.get("name"), str) and entry["name"].strip():
            label = f"feeds[{index}] ({' '.join(entry['name'].split())})"  # on one line
        bad = False

        def add(key: str, message: str, *, entry: _Mapping = entry, label: str = label) -> None:
            nonlocal bad
            bad = True
            problems.add(entry.key_lines.get(key, entry.line), f"{label} {key}", message)

        for key in entry:
            if key not in FEED_KEYS:
                add(key, _unknown_key(key, FEED_KEYS))
        url = entry.get("url")
        if "url" not in entry:
            add("url", "missing; every feed needs the address of its RSS/Atom document")
        elif reason := check_feed_url(url):
            add("url", reason)
        else:
            norm = feed_key(str(url))
            if norm in seen:
                first_line, first = seen[norm]
                spelt = "" if first.strip().lower() == str(url).strip().lower() else f" as '{first}'"
                add("url", f"'{url}' is listed twice (also on line {first_line}{spelt}); remove one entry")
            else:
                seen[norm] = (entry.key_lines["url"], str(url))
        name = entry.get("name")
        if name is None or (isinstance(name, str) and not name.strip()):
            add("name", "missing or empty; give the feed a display name")
        elif not isinstance(name, str):
            kind_of = {bool: "true or false", int: "a number", float: "a number"}.get(
                type(name), "a date or a list"
            )
            add("name", f"YAML reads it as {kind_of}, not text; put the name in quotes")
        elif "\n" in name.strip() or "\r" in name.strip():
            add("name", "must be on one line (it heads pages and emails)")
        elif not name.strip().isprintable():
            add("name", "has a control character such as a tab in it; remove it")
        kind = entry.get("kind", "blog")
        if kind not in ("blog", "podcast"):
            add("kind", f"is {kind!r}; use blog or podcast")
        language = entry.get("language")
        if language is not None and (
            not isinstance(language, str) or not language.isalpha() or len(language) not in (2, 3)
        ):
            add("language", f"{language!r} is not an ISO 639-1 code such as en{_yaml_bool(language)}")
        topics = entry.get("topics", [])
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, list) or not all(isinstance(t, str) and t.strip() for t in topics):
            add("topics", "must be a list of topic names such as [bgp, multicast]")
            topics = []
        allow = entry.get("allow_private_addresses", False)
        if not isinstance(allow, bool):
            add("allow_private_addresses", "must be true or false")
        if not bad:
            feeds.append(
                FeedConfig(
                    url=str(url).strip(),
                    name=str(name).strip(),
                    kind=FeedKind(kind),
                    language=language.lower() if language else None,
                    topics=tuple(t.strip().lower() for t in topics),
                    allow_private_addresses=bool(allow),
                    line=entry.line,
                )
            )
    return feeds


def policy_for(config: Config, feed: FeedConfig) -> AddressPolicy:
    """The address policy that applies to one feed."""
    if feed.allow_private_addresses:
        return AddressPolicy.allow_all()
    return AddressPolicy.from_setting(config.fetch.allow_private_addresses)


MAX_UNSUBSCRIBE = 900
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def mailbox(text: str) -> tuple[str, str] | None:
    """(display name, address) of text read as one mailbox of a mail header, or None when
    mail reads it otherwise: two addresses ('Planet, News <p@example.net>'), a group
    ('Planet: daily <...>'), a dot out of place, a non-ASCII local part."""
    import email.errors
    import email.policy
    from email.headerregistry import Address

    try:
        header = email.policy.default.header_factory("From", text)
        groups = header.groups
        # A dot in a name ("Dr. Planet") is obsolete syntax that mail still reads (and the
        # message quotes); the rest, two addresses, a stray dot in an address, is not.
        defects = [d for d in header.defects if not isinstance(d, email.errors.ObsoleteHeaderDefect)]
        if defects or len(groups) != 1 or groups[0].display_name is not None:
            return None
        if len(header.addresses) != 1:
            return None
        address = header.addresses[0]
        if not address.username or not address.domain:
            return None
        Address(address.display_name, addr_spec=address.addr_spec)  # what the message will do
    except (ValueError, IndexError, email.errors.MessageError):
        return None
    name = address.display_name
    if not name and "(" in text:
        # "planet@example.net (Network Planet)": the old form, the name in a comment.
        from email.utils import getaddresses

        name = getaddresses([text])[0][0]
    return name, address.addr_spec


def _one_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not any(c in value for c in "\r\n\x00")


def _digest(data: _Mapping, problems: _Problems) -> DigestConfig | None:
    raw = data.get("digest")
    if raw is None:
        return None
    if not isinstance(raw, _Mapping):
        problems.add(data.key_lines["digest"], "digest", "must be a mapping with 'from' and 'subscribers'")
        return None
    for key in raw:
        if key not in DIGEST_KEYS:
            problems.add(raw.key_lines[key], "digest", _unknown_key(key, DIGEST_KEYS))
    sender = raw.get("from")
    if not _one_line(sender) or "@" not in str(sender):
        problems.add(
            raw.key_lines.get("from", raw.line),
            "digest.from",
            "must be the sender's address on one line, such as 'Planet <planet@example.net>'",
        )
        sender = "planet@localhost"
    elif mailbox(str(sender)) is None:
        problems.add(
            raw.key_lines.get("from", raw.line),
            "digest.from",
            f"{sender!r} is not one address as mail reads it; write it as 'Planet <planet@example.net>', "
            "and quote a name with punctuation in it: '\"Planet, News\" <planet@example.net>'",
        )
        sender = "planet@localhost"
    unsubscribe = raw.get("unsubscribe")
    if unsubscribe is not None and (
        not _one_line(unsubscribe) or not str(unsubscribe).startswith(("mailto:", "https://"))
    ):
        problems.add(
            raw.key_lines["unsubscribe"],
            "digest.unsubscribe",
            "must be a mailto: or https: address on one line",
        )
        unsubscribe = None
    elif unsubscribe is not None and (
        len(str(unsubscribe)) > MAX_UNSUBSCRIBE
        or re.search(r"[\s<>\x00-\x1f\x7f]", str(unsubscribe))
        or not str(unsubscribe).isascii()
    ):
        # It goes into List-Unsubscribe as <URL>, on one line of at most 998 characters.
        problems.add(
            raw.key_lines["unsubscribe"],
            "digest.unsubscribe",
            f"must be one URL of at most {MAX_UNSUBSCRIBE} characters, in ASCII, without spaces, "
            "< or > (percent-encode them; a non-ASCII host in punycode)",
        )
        unsubscribe = None
    smtp = _smtp(raw, problems)
    subscribers = []
    listed = raw.get("subscribers", [])
    if not isinstance(listed, list):
        problems.add(raw.key_lines.get("subscribers", raw.line), "digest.subscribers", "must be a list")
        listed = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(listed):
        line = listed.item_lines[index] if hasattr(listed, "item_lines") else raw.line
        subscriber = _subscriber(entry, index, line, problems)
        if subscriber is None:
            continue
        key = subscriber.email.lower()
        if key in seen:
            problems.add(
                line,
                f"digest.subscribers[{index}].email",
                f"'{subscriber.email}' is listed twice (also on line {seen[key]})",
            )
            continue
        seen[key] = line
        subscribers.append(subscriber)
    return DigestConfig(
        str(sender).strip(), tuple(subscribers), smtp, str(unsubscribe) if unsubscribe else None
    )


def _home(path: Path, line: int, where: str, problems: _Problems) -> Path:
    """path with a leading ~ or ~user expanded; one naming no known user is a problem."""
    try:
        return path.expanduser()
    except RuntimeError:
        problems.add(line, where, _unknown_home(str(path)))
        return path


def _unknown_home(value: str) -> str:
    return f"{value!r} names a home folder this system does not know; write the path out"


def _expanded(value: str) -> Path:
    """A path given on the command line, its ~user expanded; one naming no user is a
    ConfigError about that value, not about the configuration file."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise ConfigError("--db", [_unknown_home(value)]) from None


def _ca_file(smtp: SmtpSettings, name: str, data: _Mapping, problems: _Problems) -> SmtpSettings:
    """digest.smtp.ca_file resolved beside the configuration, as the database is, and
    readable: a missing file failed every digest as "cannot reach the SMTP server"."""
    assert smtp.ca_file is not None
    digest = data.get("digest")
    smtp_raw = digest.get("smtp") if isinstance(digest, _Mapping) else None
    line = smtp_raw.key_lines.get("ca_file", 0) if isinstance(smtp_raw, _Mapping) else 0
    known = len(problems.items)
    path = _home(Path(smtp.ca_file), line, "digest.smtp.ca_file", problems)
    if len(problems.items) > known:
        return smtp  # the one problem with it is said
    if not path.is_absolute():
        path = Path(name).resolve().parent / path
    if smtp.security == "none":
        problems.add(
            line, "digest.smtp.ca_file", "is for TLS, and security is none; remove it or use starttls or tls"
        )
    elif not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        problems.add(line, "digest.smtp.ca_file", f"{path} {what}; give the PEM file of the CA to trust")
    elif not os.access(path, os.R_OK):
        problems.add(line, "digest.smtp.ca_file", f"{path} cannot be read by this user; make it readable")
    return replace(smtp, ca_file=str(path))


def _smtp(raw: _Mapping, problems: _Problems) -> SmtpSettings:
    smtp = raw.get("smtp")
    if smtp is None:
        return SmtpSettings()
    if not isinstance(smtp, _Mapping):
        problems.add(
            raw.key_lines["smtp"], "digest.smtp", "must be a mapping such as {host: mail.example.net}"
        )
        return SmtpSettings()
    values: dict[str, Any] = {}
    for key, value in smtp.items():
        line, where = smtp.key_lines[key], f"digest.smtp.{key}"
        if key not in SMTP_KEYS:
            problems.add(line, "digest.smtp", _unknown_key(key, SMTP_KEYS))
        elif key == "port":
            if not _is_int(value) or not 1 <= value <= 65535:
                problems.add(line, where, f"must be a port number, not {value!r}")
            else:
                values[key] = value
        elif key == "security":
            if value not in ("starttls", "tls", "none"):
                problems.add(line, where, f"must be starttls, tls or none, not {value!r}")
            else:
                values[key] = value
        elif key == "timeout":
            if not _is_number(value) or value <= 0:
                problems.add(line, where, f"must be a number of seconds > 0, not {value!r}")
            else:
                values[key] = float(value)
        elif not _one_line(value):
            problems.add(line, where, "must be a string on one line")
        else:
            values[key] = str(value).strip()
    if "port" not in values and values.get("security") == "tls":
        values["port"] = 465
    return SmtpSettings(**values)


def _subscriber(entry: object, index: int, line: int, problems: _Problems) -> Subscriber | None:
    where = f"digest.subscribers[{index}]"
    if not isinstance(entry, _Mapping):
        problems.add(line, where, "must be a mapping with at least 'email'")
        return None
    ok = True
    for key in entry:
        if key not in SUBSCRIBER_KEYS:
            problems.add(entry.key_lines[key], where, _unknown_key(key, SUBSCRIBER_KEYS))
            ok = False
    email = entry.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        problems.add(
            entry.key_lines.get("email", line), f"{where}.email", f"{email!r} is not an email address"
        )
        return None
    if mailbox(email.strip()) != ("", email.strip()):
        problems.add(
            entry.key_lines.get("email", line),
            f"{where}.email",
            f"{email!r} is not an address mail can be sent to (a dot at the start or end of a part, "
            "two dots in a row, a non-ASCII name before the @); correct it",
        )
        return None
    name = entry.get("name", "")
    if name and not _one_line(name):
        problems.add(entry.key_lines["name"], f"{where}.name", "must be a name on one line")
        ok = False
    topics = entry.get("topics", "all")
    if topics == "all":
        topics = []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        problems.add(
            entry.key_lines.get("topics", line),
            f"{where}.topics",
            "must be 'all' or a list such as [bgp, igp]",
        )
        topics, ok = [], False
    frequency = entry.get("frequency", "weekly")
    if frequency not in ("daily", "weekly"):
        problems.add(
            entry.key_lines.get("frequency", line),
            f"{where}.frequency",
            f"must be daily or weekly, not {frequency!r}",
        )
        frequency, ok = "weekly", False
    day = str(entry.get("day", "monday")).lower()
    if day not in DAYS:
        problems.add(
            entry.key_lines.get("day", line),
            f"{where}.day",
            f"must be a day of the week such as monday, not {day!r}",
        )
        day, ok = "monday", False
    hour = entry.get("hour", 7)
    if not _is_int(hour) or not 0 <= hour <= 23:
        problems.add(
            entry.key_lines.get("hour", line),
            f"{where}.hour",
            f"must be an hour from 0 to 23 (UTC), not {hour!r}"
            + (
                f"; write it without the leading zero: {int(hour)}"
                if isinstance(hour, str) and re.fullmatch(r"0[0-9]+", hour.strip())
                else ""
            ),
        )
        hour, ok = 7, False
    if not ok:
        return None
    return Subscriber(
        email=email.strip(),
        name=str(name).strip(),
        topics=tuple(t.strip().lower() for t in topics),
        frequency=Frequency(frequency),
        day=DAYS.index(day),
        hour=hour,
        line=line,
    )
