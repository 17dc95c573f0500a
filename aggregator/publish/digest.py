"""`aggregator digest`: each subscriber's email of new posts, grouped by topic, sent once.

A subscriber's digest is due from the hour (UTC) they chose, every day or on their day
of the week. It tells about the kept posts first stored since their last digest (or
since one period before), among the topics they chose. A story several sources
carried (the same link, or the same title) appears once with all its sources. The
message is one multipart/alternative: plain text for a terminal, and HTML with its
CSS inlined (css-inline) in a single-column table layout that mail clients keep.
Each digest sent is recorded with its period, so cron can call this hourly and a run
that stopped half way resumes where it stopped.
"""

from __future__ import annotations

import base64
import contextlib
import email.errors
import email.policy
import functools
import hashlib
import math
import os
import re
import signal
import smtplib
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

from ..config import mailbox
from ..errors import AggregatorError
from ..sanitize import clean_text
from ..store import Store
from ..topics.taxonomy import Topic
from ..types import DigestConfig, Frequency, SiteConfig, SmtpSettings, Subscriber
from ..urls import clean_link, on_own_site
from .templates import render

# More than this in one digest: the oldest are counted, not listed. Gmail clips a message
# whose HTML passes 102 KB, hiding what follows (the unsubscribe link among it): a story
# takes about 0.9 KB with its inlined styles, so 80 of them leave room for the rest.
MAX_STORIES = 80
# A post published this long before it was first stored is the back catalogue of a feed
# just added (or allowed whole, or re-dating its archive): the site has it; the digest,
# which tells what is new, leaves it out. A month, so that a feed that failed for weeks
# and came back still has its posts told.
BACK_CATALOGUE = timedelta(days=30)


class DigestError(AggregatorError):
    """The digest cannot be made or sent (configuration, SMTP)."""


@dataclass(frozen=True)
class Story:
    title: str
    link: str | None
    sources: tuple[tuple[str, str | None], ...]  # (source name, its post's link)
    published: datetime
    excerpt: str
    topics: tuple[str, ...]
    duration: int | None  # seconds, for a podcast episode
    news: bool = True  # False: every copy is a feed's back catalogue (see _back_catalogue)

    @property
    def source_names(self) -> str:
        return ", ".join(name for name, _ in self.sources)


@dataclass(frozen=True)
class Digest:
    subscriber: Subscriber
    period: str  # 2026-11-25 (daily) or 2026-W48 (weekly)
    since: datetime
    until: datetime
    groups: tuple[tuple[str, tuple[Story, ...]], ...]  # (topic or "", stories)
    more: int  # stories left out beyond MAX_STORIES

    @property
    def count(self) -> int:
        return sum(len(stories) for _, stories in self.groups) + self.more


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)  # "email period"
    written: list[Path] = field(default_factory=list)  # dry run
    empty: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (email, why)


def latest_send_time(subscriber: Subscriber, now: datetime) -> datetime:
    """The latest time at or before now at which this subscriber's digest was due."""
    today = now.replace(hour=subscriber.hour, minute=0, second=0, microsecond=0)
    if subscriber.frequency is Frequency.DAILY:
        return today if today <= now else today - timedelta(days=1)
    back = (today.weekday() - subscriber.day) % 7
    candidate = today - timedelta(days=back)
    return candidate if candidate <= now else candidate - timedelta(days=7)


def period_of(subscriber: Subscriber, at: datetime) -> str:
    if subscriber.frequency is Frequency.DAILY:
        return at.strftime("%Y-%m-%d")
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def _normal(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


NEAR_DUPLICATE = 0.6  # share of word triples two excerpts have in common to be one story


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def _same_text(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    return len(a) >= 8 and len(b) >= 8 and len(a & b) / len(a | b) >= NEAR_DUPLICATE


def _prefix(shingles: frozenset[tuple[str, ...]], rarity: Counter[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The rarest shingles, as many as two sets at NEAR_DUPLICATE must share one of: of
    sets whose overlap is at least t of their union, the first len - t*len + 1 of each in
    one fixed order meet (prefix filtering). One more than that, against rounding."""
    ordered = sorted(shingles, key=lambda s: (rarity[s], s))
    return ordered[: len(ordered) - math.floor(NEAR_DUPLICATE * len(ordered)) + 1]


def stories_of(rows: Sequence[dict[str, Any]]) -> list[Story]:
    """Posts made into stories: one per canonical link, per title, or per near-identical
    excerpt (a press release several blogs reposted), each with every source."""
    stories: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    # A story's excerpt is compared only with the stories that share one of its rarest
    # shingles, not with every story before it: that cost the square of the period's
    # posts, minutes for a feed that floods the digest with thousands of posts.
    texts = [_shingles(row["excerpt"] or "") for row in rows]
    rarity = Counter(shingle for shingles in texts for shingle in shingles)
    by_shingle: dict[tuple[str, ...], list[int]] = {}
    for row, shingles in zip(rows, texts, strict=True):
        # Cleaned again on the way out: a row stored before links were percent-encoded
        # must not reach the email with a raw quote or bracket in it.
        row = {**row, "link": clean_link(row["link"])}
        keys = [
            k for k in (f"link:{row['link']}" if row["link"] else "", f"title:{_normal(row['title'])}") if k
        ]
        # A story is what several feeds carried: two posts of one feed (two "Worth reading"
        # posts, episodes whose notes open with the same sponsor) are two stories, as on
        # the site (model.merge_carried).
        feed = row["feed_url"]
        story = next((by_key[k] for k in keys if k in by_key and feed not in by_key[k]["feeds"]), None)
        prefix = _prefix(shingles, rarity) if len(shingles) >= 8 else []
        if story is None:
            candidates = sorted({i for shingle in prefix for i in by_shingle.get(shingle, ())})
            story = next(
                (
                    stories[i]
                    for i in candidates
                    if feed not in stories[i]["feeds"] and _same_text(stories[i]["shingles"], shingles)
                ),
                None,
            )
        own = on_own_site(row["link"], row["feed_url"])
        news = not _back_catalogue(row)
        if story is None:
            story = {
                "row": row,
                "own": own,
                "shown_news": news,
                "news": news,
                "sources": [],
                "topics": [],
                "shingles": shingles,
                "feeds": set(),
            }
            for shingle in prefix:
                by_shingle.setdefault(shingle, []).append(len(stories))
            stories.append(story)
        elif (news, own) > (story["shown_news"], story["own"]):
            # A copy that is news tells the story before a new feed's archive copy; then
            # the copy from the link's own site, not an earlier-dated one another feed
            # carries (or forged: its own text under a member's title).
            story["row"], story["own"], story["shown_news"] = row, own, news
        story["news"] = story["news"] or news
        story["feeds"].add(feed)
        if (row["source"], row["link"]) not in story["sources"]:
            story["sources"].append((row["source"], row["link"]))
        story["topics"] += [t for t, _ in row["topics"] if t not in story["topics"]]
        for k in keys:
            by_key.setdefault(k, story)
    out = []
    for story in stories:
        row = story["row"]
        out.append(
            Story(
                title=clean_text(row["title"] or "(untitled)"),
                link=row["link"],
                # The source whose copy is shown first, then the others as they came.
                sources=tuple(sorted(story["sources"], key=lambda source: source[0] != row["source"])),
                published=datetime.fromisoformat(row["published"]),
                excerpt=clean_text(row["excerpt"] or ""),
                topics=tuple(story["topics"]),
                duration=row["duration"]
                if row["kind"] == "podcast" or row["enclosures"] not in (None, "[]")
                else None,
                news=story["news"],
            )
        )
    return out


Periods = dict[tuple[datetime, datetime], list[Story]]  # (since, until) -> its stories


def make_digest(
    store: Store,
    subscriber: Subscriber,
    taxonomy: Sequence[Topic],
    now: datetime,
    periods: Periods | None = None,
) -> Digest | None:
    """The subscriber's digest due now, or None when it was sent already. periods: the
    stories of each period read so far in this run, shared by the subscribers whose
    digests cover the same one (most of a list: the same day or week)."""
    until = latest_send_time(subscriber, now)
    period = period_of(subscriber, until)
    if store.digest_sent(subscriber.email, period):
        return None
    length = timedelta(days=1 if subscriber.frequency is Frequency.DAILY else 7)
    since = store.last_digest(subscriber.email) or until - length
    if since >= until:
        return None
    wanted = set(subscriber.topics)
    stories = [
        s
        for s in _period_stories(store, since, until, periods)
        if (not wanted or wanted.intersection(s.topics)) and s.news
    ]
    listed = stories[-MAX_STORIES:]  # oldest first: the newest are listed
    order = [t.name for t in taxonomy if not wanted or t.name in wanted]
    groups: dict[str, list[Story]] = {}
    for story in listed:
        first = next((t for t in order if t in story.topics), "")
        groups.setdefault(first, []).append(story)
    ordered = tuple((name, tuple(groups[name])) for name in [*order, ""] if name in groups)
    return Digest(subscriber, period, since, until, ordered, len(stories) - len(listed))


def _period_stories(store: Store, since: datetime, until: datetime, periods: Periods | None) -> list[Story]:
    if periods is None:
        return stories_of(store.digest_posts(since, until))
    if (since, until) not in periods:
        periods[since, until] = stories_of(store.digest_posts(since, until))
    return periods[since, until]


def _back_catalogue(row: Mapping[str, Any]) -> bool:
    """A post published long before it was first stored: the archive a feed brings when
    it is added (or allowed whole), not news. (A post the owner publishes later, released
    or allowed, is news when it was new when stored.)"""
    return (
        datetime.fromisoformat(row["published"]) < datetime.fromisoformat(row["first_seen"]) - BACK_CATALOGUE
    )


def subject_of(digest: Digest, site: SiteConfig) -> str:
    last_day = digest.until - timedelta(seconds=1)
    if digest.subscriber.frequency is Frequency.DAILY:
        kind = "Daily"
        if digest.until - digest.since > timedelta(days=1, hours=1):
            # Days the digest could not go out (a mail server down, cron off) come in one:
            # named by one day, the others' posts would seem misdated.
            when = f"{digest.since:%d %b} to {last_day:%d %b %Y}"
        else:
            when = f"{digest.until - timedelta(days=1):%a %d %b %Y}"
    else:
        when = f"{digest.since:%d %b} to {last_day:%d %b %Y}"
        kind = "Weekly"
    count = digest.count
    # Only our own words and numbers: nothing from a feed reaches a header.
    return clean_text(f"{site.title}: {kind} digest, {when} ({count} post{'s' if count != 1 else ''})")


@functools.lru_cache(maxsize=8)
def _sender(config_sender: str) -> tuple[str, str]:
    """(name, address) of digest.from, which check read as one mailbox."""
    return mailbox(config_sender) or ("", "planet@localhost")


def message_id(digest: Digest, sender: str) -> str:
    domain = _sender(sender)[1].rpartition("@")[2].strip() or "localhost"
    # One mailbox whatever the case of its address (check refuses both spellings as one).
    address = digest.subscriber.email.lower()
    token = hashlib.sha1(f"{address}\0{digest.period}".encode(), usedforsecurity=False)
    return f"<digest.{digest.period}.{token.hexdigest()[:16]}@{domain}>"


def unsubscribe_address(config: DigestConfig) -> str:
    """digest.unsubscribe, or a mail to the sender asking to unsubscribe."""
    return config.unsubscribe or f"mailto:{_sender(config.sender)[1]}?subject=unsubscribe"


class _OneLine(UnstructuredHeader):
    """A header written on one line as it is: List-Unsubscribe's <URL> (RFC 2369). Folded
    as ordinary text, a URL longer than a line became RFC 2047 encoded-words, which no
    mail client reads as a URL."""

    name: str  # BaseHeader's, which HeaderRegistry mixes in

    def fold(self, *, policy: Any) -> str:
        if not str(self).isascii():  # (a mailto: to an IDN domain) folded as mail folds text
            return str(super().fold(policy=policy))  # type: ignore[misc]  # BaseHeader's, mixed in
        return f"{self.name}: {self}{policy.linesep}"


def _policy() -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    # HeaderRegistry mixes the class given with BaseHeader, as it does UnstructuredHeader.
    registry.map_to_type("list-unsubscribe", cast(Any, _OneLine))
    return email.policy.default.clone(header_factory=registry)


def render_message(
    digest: Digest, config: DigestConfig, site: SiteConfig, env: Any, now: datetime
) -> EmailMessage:
    import css_inline

    context = {
        "digest": digest,
        "site": site,
        "subject": subject_of(digest, site),
        "unsubscribe": unsubscribe_address(config),
    }
    text = render(env, "email.txt", **context)
    html = css_inline.inline(render(env, "email.html", **context))
    message = EmailMessage(policy=_policy())
    message["Subject"] = context["subject"]
    name, address = _sender(config.sender)
    message["From"] = Address(clean_text(name), addr_spec=address)
    message["To"] = Address(clean_text(digest.subscriber.name), addr_spec=digest.subscriber.email)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(digest, config.sender)
    message["List-Unsubscribe"] = f"<{unsubscribe_address(config)}>"
    if config.unsubscribe and config.unsubscribe.startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    # 7-bit on the wire: raw UTF-8 needs BODY=8BITMIME (RFC 6152), which is not declared.
    message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
    message.add_alternative(html, subtype="html")
    return message


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


# How long a message's sending may wait on the server (RFC 5321 4.5.3.2: 5 minutes for
# MAIL and RCPT, 10 for the reply to the end of the data, while a content filter reads
# the message). digest.smtp.timeout is for connecting and logging in: a server that
# accepted a message but answered after it was reported "not sent", and the digest went
# out again on every run.
SEND_TIMEOUT = 600.0


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtp.login, also for a user name or password beyond ASCII, which smtplib cannot
    encode: AUTH PLAIN carries UTF-8 (RFC 4616)."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise DigestError(
            "the SMTP password or user name has characters beyond ASCII, which only AUTH PLAIN "
            f"carries, and the server offers {smtp.esmtp_features.get('auth', 'no AUTH').strip() or 'none'}; "
            "use an ASCII password"
        )
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def refusal(exc: smtplib.SMTPException) -> str:
    """What the server said, in words: its code, its text, and whether trying again may
    help (4xx: the next run tries again) or not (5xx: fix the address or the message)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{_said(code, text)} for {addr}" for addr, (code, text) in exc.recipients.items()]
        return "recipient refused: " + "; ".join(parts)
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return f"{type(exc).__name__.removeprefix('SMTP')}: {_said(code, getattr(exc, 'smtp_error', b''))}"
    return f"{type(exc).__name__}: {exc}"


def _said(code: int, text: bytes | str) -> str:
    kind = "temporary" if 400 <= code < 500 else "permanent" if code >= 500 else "unexpected"
    return f"{code} {_text(text).strip()} ({kind})"


class Sender:
    """One SMTP connection for a run; opened on the first message."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def connect(self) -> None:
        """A connection ready for the next message: the one open, if the server still
        answers, else a new one (connecting and logging in, within smtp.timeout)."""
        if self._smtp is not None and not self._alive():
            self.close()  # the server hung up since the last message (idle timeout, a limit)
        if self._smtp is None:
            self._smtp = self._connect()

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        sock = self._smtp.sock
        if sock is not None:
            sock.settimeout(max(self.settings.timeout, SEND_TIMEOUT))
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None  # the next subscriber gets a new connection
            raise
        finally:
            if self._smtp is not None and self._smtp.sock is not None:
                self._smtp.sock.settimeout(self.settings.timeout)

    def _alive(self) -> bool:
        try:
            return self._smtp is not None and self._smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            # Certificates are always checked: the system's CAs, and digest.smtp.ca_file.
            context = ssl.create_default_context(cafile=s.ca_file)
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    smtp.starttls(context=context)
            if s.username:
                password = os.environ.get(s.password_env)
                if not password:
                    raise DigestError(
                        f"digest.smtp.username is set but ${s.password_env} is empty; "
                        "export the SMTP password in that variable"
                    )
                try:
                    _login(smtp, s.username, password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise DigestError(
                        f"the SMTP server {s.host}:{s.port} refused the login of {s.username!r} "
                        f"({exc.smtp_code} {_text(exc.smtp_error)}); check "
                        f"digest.smtp.username and the password in ${s.password_env}"
                    ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            hint = "check digest.smtp"
            if isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError | smtplib.SMTPServerDisconnected):
                # TLS at once against a STARTTLS port, or the other way round, fails so.
                hint = (
                    f"does digest.smtp.security ({s.security}) match port {s.port}? "
                    "tls is TLS from the start (usually port 465), starttls upgrades a plain "
                    "connection (usually 587)"
                )
            raise DigestError(f"cannot reach the SMTP server {s.host}:{s.port} ({exc}); {hint}") from exc
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


def send_digests(
    store: Store,
    config: DigestConfig,
    site: SiteConfig,
    taxonomy: Sequence[Topic],
    env: Any,
    now: datetime,
    dry_run_to: Path | None = None,
    sender: Sender | None = None,
    progress: Callable[[str], None] | None = None,
) -> DigestReport:
    """Send (or, with dry_run_to, write as .eml files) every digest that is due now."""
    known = {t.name for t in taxonomy}
    for subscriber in config.subscribers:
        unknown = [t for t in subscriber.topics if t not in known]
        if unknown:
            raise DigestError(
                f"digest subscriber {subscriber.email} (line {subscriber.line}): unknown topic "
                f"{unknown[0]!r}; the topics are {', '.join(sorted(known))}, or 'all'"
            )
    report = DigestReport()
    sender = sender or Sender(config.smtp)
    periods: Periods = {}
    try:
        for subscriber in config.subscribers:
            digest = make_digest(store, subscriber, taxonomy, now, periods)
            if digest is None:
                continue
            if digest.count == 0:
                report.empty.append(subscriber.email)
                continue
            try:
                message = render_message(digest, config, site, env, now)
            except (ValueError, email.errors.MessageError) as exc:
                # An address mail cannot write (check refuses them): this one is not sent.
                report.failed.append((subscriber.email, f"cannot write the message: {exc}"))
                continue
            if dry_run_to is not None:
                name = re.sub(r"[^A-Za-z0-9@._-]", "_", f"{digest.period}-{subscriber.email}") + ".eml"
                path = dry_run_to / name
                try:
                    dry_run_to.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(bytes(message))
                except OSError as exc:
                    raise DigestError(
                        f"cannot write {path} ({exc.strerror or exc}); give --out a folder you can write"
                    ) from exc
                report.written.append(path)
                continue
            sender.connect()  # a SIGTERM while connecting or logging in stops the run at once
            # A SIGTERM (cron's timeout, a shutdown) waits until the message is sent and
            # recorded: between the two, a sent digest would be sent again by the next run.
            with _signals_deferred():
                try:
                    sender.send(message)
                except smtplib.SMTPException as exc:
                    # This subscriber's server said no: report it, go on with the others.
                    report.failed.append((subscriber.email, refusal(exc)))
                    continue
                # Recorded at once: a run that stops after this resumes with the next one.
                store.record_digest(
                    subscriber.email,
                    digest.period,
                    digest.since,
                    digest.until,
                    digest.count,
                    message["Message-ID"],
                    now,
                )
            report.sent.append(f"{subscriber.email} {digest.period}")
            if progress:
                progress(f"sent {digest.period} to {subscriber.email} ({digest.count} posts)")
    finally:
        sender.close()
    return report


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGTERM and SIGINT held until the block ends, then delivered as they would have
    been. Only the main thread can set handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {number: signal.signal(number, lambda n, _f: caught.append(n)) for number in _DEFERRED}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for held in dict.fromkeys(caught):
            signal.raise_signal(held)


_DEFERRED = (signal.SIGTERM, signal.SIGINT)


def digest_from_config(
    config: Any, now: datetime, dry_run_to: Path | None = None, progress: Callable[[str], None] | None = None
) -> DigestReport:
    """Lock the database and send (or write) every digest due now."""
    from ..cards import MODEL_DIR
    from ..lock import RunLock
    from ..settle import settle_from_config
    from ..topics.taxonomy import load_taxonomy
    from .site import environment, site_folder

    if config.digest is None:
        raise DigestError(f"{config.path}: no `digest:` section; see docs/digest.md")
    env = environment(site_folder(config))
    with RunLock(config.database), Store(config.database) as store:
        settle_from_config(config, store, now)  # a run killed before its end left them undone
        return send_digests(
            store,
            config.digest,
            config.site,
            load_taxonomy(MODEL_DIR / "topics.yaml"),
            env,
            now,
            dry_run_to,
            progress=progress,
        )
