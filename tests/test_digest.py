"""The email digest, received by a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from conftest import Clock, WriteConfig
from feedgen import Item, rss
from rfc3986 import is_safe_http_url
from sitekit import NOW, SITE, add_feed, make_site_db, store_feed

from aggregator.cli import cli
from aggregator.config import load_config, parse_config
from aggregator.errors import ConfigError
from aggregator.feedserver import FeedServer, Route
from aggregator.pipeline import update
from aggregator.publish.digest import DigestError, Sender, send_digests
from aggregator.publish.site import build_site, environment
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.topics.taxonomy import load_taxonomy
from aggregator.types import DigestConfig, FeedConfig, Frequency, SmtpSettings, Subscriber

WEDNESDAY_8 = NOW.replace(hour=8)  # 2026-11-25 is a Wednesday; posts were stored at 06:00


class Inbox:
    def __init__(self, reject: frozenset[str] = frozenset()) -> None:
        self.messages: list[EmailMessage] = []
        self.received: list[bytes] = []  # as the server got them
        self.reject = reject

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.reject:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox(frozenset({"bounce@example.org"}))
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load(("en",))


@pytest.fixture
def store(tmp_path: Path, screener: Screener) -> Store:
    return make_site_db(tmp_path / "site.db", screener)


def digest_config(port: int, *subscribers: Subscriber) -> DigestConfig:
    return DigestConfig(
        sender="Test Planet <planet@example.net>",
        subscribers=subscribers,
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5),
        unsubscribe="mailto:planet@example.net?subject=unsubscribe",
    )


def send(
    store: Store, config: DigestConfig, now: datetime = WEDNESDAY_8, sender: Sender | None = None
) -> Any:
    return send_digests(store, config, SITE, load_taxonomy(), environment(None), now, sender=sender)


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_weekly_digest_grouped_by_topic_with_both_parts_and_sent_once(
    store: Store, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    alice = Subscriber("alice@example.org", "Alice Example", (), Frequency.WEEKLY, day=2, hour=7)
    report = send(store, digest_config(port, alice))
    assert report.sent == ["alice@example.org 2026-W48"] and report.failed == []
    (message,) = handler.messages
    assert message["To"] == "Alice Example <alice@example.org>"
    assert message["List-Unsubscribe"] == "<mailto:planet@example.net?subject=unsubscribe>"
    subject = message["Subject"]
    assert subject.startswith("Test Planet: Weekly digest, 18 Nov to 25 Nov 2026 (") and "posts)" in subject
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    text, html = parts(message)
    # Grouped by topic, in the taxonomy's order; each post with its source and date.
    assert text.index("== kubernetes ==") < text.index("== ipv6 ==")
    assert "Dual-Stack Kubernetes Clusters: Notes from the First Year" in text
    assert "Cloud Native Wire - 23 Nov 2026" in text
    assert "episode, 1:11:26" in text  # a podcast episode with its duration
    assert "togel" not in text.lower()  # dropped posts are not in the digest
    # The HTML part: CSS inlined, no style block, no script, the hostile title as text.
    assert 'style="' in html and "<style" not in html and "<script" not in html
    assert "&lt;script&gt;" in html
    assert max(len(line) for line in text.splitlines()) <= 100  # readable in a terminal
    again = send(store, digest_config(port, alice), WEDNESDAY_8 + timedelta(hours=3))
    assert again.sent == [] and len(handler.messages) == 1  # cron's next hourly call sends nothing
    # The same mailbox written in capitals (check reads it as the same subscriber).
    shouting = Subscriber("Alice@Example.ORG", "Alice Example", (), Frequency.WEEKLY, day=2, hour=7)
    assert send(store, digest_config(port, shouting), WEDNESDAY_8 + timedelta(hours=4)).sent == []
    # 7-bit on the wire, the text part included: no BODY=8BITMIME is declared (RFC 6152).
    assert "—" in text or any(not c.isascii() for c in text)
    assert all(byte < 128 for byte in handler.received[0])


def test_topics_filter_and_a_story_from_two_sources_appears_once(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    handler, port = inbox
    for url, name in (
        ("https://one.example.net/feed.xml", "Site One"),
        ("https://two.example.net/feed.xml", "Site Two"),
    ):
        store.sync_feeds([FeedConfig(url, name)], NOW)
        doc = rss(
            Item(
                "RPKI route origin validation at an IXP route server",
                guid=f"{name}-1",
                link="https://news.example.net/rov-at-the-ixp?utm_source=feed",
                body="<p>BGP route origin validation with RPKI on the route server: invalids dropped.</p>",
                date="Tue, 24 Nov 2026 10:00:00 GMT",
            )
        )
        store_feed(store, screener, url, doc, NOW, store.start_run(NOW, 1))
    store.index_topics()
    bob = Subscriber("bob@example.org", "Bob", ("bgp",), Frequency.DAILY, hour=7)
    send(store, digest_config(port, bob))
    (message,) = handler.messages
    text, _html = parts(message)
    assert "Daily digest, Tue 24 Nov 2026" in message["Subject"]
    assert text.count("RPKI route origin validation at an IXP route server") == 1
    assert "Site One, Site Two" in text
    assert "Dual-Stack Kubernetes Clusters" not in text  # only the topics Bob chose
    assert text.count("== ") == 1 and "== bgp ==" in text


def test_a_feed_that_copies_a_members_post_with_its_own_text_and_an_earlier_date_does_not_tell_it(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    # A hijacked member feed republishes another member's post under the same title and
    # link, with its own text and an earlier date: the email must tell the genuine copy.
    handler, port = inbox
    link = "https://member.example.net/2026/11/rr-design/"
    title = "Our new BGP route reflector design"
    copies = (
        (
            "https://member.example.net/feed.xml",
            "Member Blog",
            "Route reflector clusters and the iBGP mesh we kept.",
            "Tue, 24 Nov 2026 10:00:00 GMT",
        ),
        (
            "https://forger.example.org/feed.xml",
            "Forger Blog",
            "FORGED: turn off RPKI origin validation on every BGP session.",
            "Mon, 23 Nov 2026 10:00:00 GMT",
        ),
    )
    for url, name, text, date in copies:
        store.sync_feeds([FeedConfig(url, name)], NOW)
        doc = rss(Item(title, guid=f"{name}-1", link=link, body=f"<p>{text}</p>", date=date))
        store_feed(store, screener, url, doc, NOW, store.start_run(NOW, 1))
    store.index_topics()
    bob = Subscriber("bob@example.org", "Bob", (), Frequency.DAILY, hour=7)
    send(store, digest_config(port, bob))
    (message,) = handler.messages
    text, html = parts(message)
    assert text.count(title) == 1
    assert "iBGP mesh we kept" in text and "FORGED" not in text and "FORGED" not in html
    assert "Member Blog, Forger Blog" in text  # the genuine source first


def test_a_flood_of_posts_does_not_make_the_digest_take_minutes(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    # Two feeds of 2,000 distinct posts each (the most a feed is read for) in one day.
    # Each post's excerpt was compared with every story before it: 4,000 posts took
    # 17 s for each subscriber's digest, and the time grows with the square.
    words = "bgp ospf isis evpn vxlan mpls ldp rsvp segment routing multicast pim igmp".split()
    words += "prefix route reflector session timer area lsa spf label tunnel fabric leaf spine".split()
    words += "switch router interface vlan trunk mtu latency peering transit anycast dns".split()
    pick = random.Random(7)
    for feed in range(2):
        url = f"https://flood-{feed}.example.net/feed.xml"
        store.sync_feeds([FeedConfig(url, f"Flood {feed}")], NOW)
        items = []
        for i in range(2000):
            picked = pick.choices(words, k=30)
            body = f"<p>Post {feed}-{i} on network design: {' '.join(picked)} number {i}.</p>"
            items.append(Item(f"Network design note {feed}-{i}", guid=f"{feed}-{i}", body=body))
        store_feed(store, screener, url, rss(*items), NOW, store.start_run(NOW, 1))
    store.index_topics()
    assert store.count_posts() > 4000
    handler, port = inbox
    alice = Subscriber("alice@example.org", "Alice", (), Frequency.DAILY, hour=7)
    started = time.monotonic()
    assert send(store, digest_config(port, alice)).sent
    assert time.monotonic() - started < 6
    (message,) = handler.messages
    assert "more" in parts(message)[0]  # the stories past the digest's limit are counted


def test_a_digest_reads_its_period_through_indexes_not_every_post(tmp_path: Path) -> None:
    # Every due subscriber's digest reads the posts first stored in its period and their
    # topics. A year-old planet (150,000 posts) took 3.7 s a subscriber, 186 s for 50, when
    # that read every kept post and, for each one found, every row of post_topics.
    store = Store(tmp_path / "a.db")
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    store.digest_posts(NOW - timedelta(days=1), NOW)
    store.db.conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 2
    for sql in selects:
        plan = [str(r[-1]) for r in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if step.startswith("SCAN")], (sql, plan)
        # Every read of posts is bounded by the period, not by status alone (which walks
        # every kept post): the first_seen and listed_at ranges, each on its index.
        posts = [step for step in plan if step.startswith("SEARCH p ")]
        assert posts and all("first_seen>?" in s or "listed_at>?" in s for s in posts), (sql, plan)


def test_whether_a_digest_went_out_is_looked_up_on_an_index_whatever_the_case(tmp_path: Path) -> None:
    # Cron calls digest hourly; a lookup that scans every digest ever sent, per subscriber,
    # took 4.6 s with 500 subscribers and a year of them.
    store = Store(tmp_path / "a.db")
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    store.digest_sent("Alice@Example.org", "2026-W48")
    store.last_digest("Alice@Example.org")
    store.db.conn.set_trace_callback(None)
    for sql in [s for s in statements if s.lstrip().upper().startswith("SELECT")]:
        plan = [str(r[-1]) for r in store.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert plan and all(step.startswith("SEARCH") for step in plan), (sql, plan)


def test_near_identical_text_from_two_sources_is_one_story(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    handler, port = inbox
    release = (
        "Vendor X today announced a 51.2 terabit spine switch with 64 ports of 800G, "
        "deep buffers for AI training fabrics, EVPN VXLAN and BGP unnumbered out of the box"
    )
    for url, name, title in (
        ("https://one.example.net/feed.xml", "Site One", "Vendor X launches a 51.2T spine"),
        ("https://two.example.net/feed.xml", "Site Two", "New 800G spine switch from Vendor X"),
    ):
        store.sync_feeds([FeedConfig(url, name)], NOW)
        link = f"https://{name[-3:].lower()}.example.net/x"
        doc = rss(
            Item(title, guid=name, link=link, body=f"<p>{release}.</p>", date="Tue, 24 Nov 2026 10:00:00 GMT")
        )
        store_feed(store, screener, url, doc, NOW, store.start_run(NOW, 1))
    store.index_topics()
    send(
        store, digest_config(port, Subscriber("fay@example.org", "Fay", (), Frequency.WEEKLY, day=2, hour=7))
    )
    text, _html = parts(handler.messages[0])
    assert ("Vendor X launches a 51.2T spine" in text) != ("New 800G spine switch from Vendor X" in text)
    assert "Site One, Site Two" in text


def test_two_posts_of_one_feed_are_two_stories(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    # One feed's two "Worth reading" posts (one title), and two episodes whose notes open
    # with the same sponsor: merged as "stories", one of each pair was never told.
    handler, port = inbox
    url = "https://packet-notes.example.net/feed.xml"
    store.sync_feeds([FeedConfig(url, "Packet Notes")], NOW)
    sponsor = (
        "This episode is brought to you by Vendor X, whose 51.2 terabit spine switch ships with "
        "EVPN VXLAN and BGP unnumbered out of the box. Today we talk about"
    )
    doc = rss(
        Item(
            "Worth reading: BGP and OSPF",
            guid="w1",
            link="https://packet-notes.example.net/w1",
            body="<p>Route reflectors, OSPF areas and a BGP add-path write-up.</p>",
            date="Tue, 24 Nov 2026 10:00:00 GMT",
        ),
        Item(
            "Worth reading: BGP and OSPF",
            guid="w2",
            link="https://packet-notes.example.net/w2",
            body="<p>IS-IS flooding and an RPKI deployment story from an IXP.</p>",
            date="Tue, 24 Nov 2026 11:00:00 GMT",
        ),
        Item(
            "Episode 101: BGP route leaks",
            guid="e1",
            link="https://packet-notes.example.net/e1",
            body=f"<p>{sponsor} BGP route leaks and how RPKI helps.</p>",
            date="Tue, 24 Nov 2026 12:00:00 GMT",
        ),
        Item(
            "Episode 102: BGP security",
            guid="e2",
            link="https://packet-notes.example.net/e2",
            body=f"<p>{sponsor} BGPsec and ASPA for route origin and path checks.</p>",
            date="Tue, 24 Nov 2026 13:00:00 GMT",
        ),
    )
    store_feed(store, screener, url, doc, NOW, store.start_run(NOW, 1))
    store.index_topics()
    send(
        store, digest_config(port, Subscriber("gus@example.org", "Gus", (), Frequency.WEEKLY, day=2, hour=7))
    )
    text, _html = parts(handler.messages[0])
    for link in ("w1", "w2", "e1", "e2"):
        assert f"https://packet-notes.example.net/{link}" in text, link
    assert "Packet Notes, Packet Notes" not in text


def test_a_run_stopped_half_way_resumes_and_nothing_goes_twice(
    store: Store, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    people = [
        Subscriber(f"reader{i}@example.org", f"Reader {i}", (), Frequency.WEEKLY, day=2, hour=7)
        for i in range(10)
    ]
    config = digest_config(port, *people)

    class Crashing(Sender):
        sent = 0

        def send(self, message: EmailMessage) -> None:
            if Crashing.sent == 3:
                raise KeyboardInterrupt  # the run is killed after three messages
            super().send(message)
            Crashing.sent += 1

    with pytest.raises(KeyboardInterrupt):
        send(store, config, sender=Crashing(config.smtp))
    assert len(handler.messages) == 3
    report = send(store, config)
    assert len(report.sent) == 7
    assert sorted(str(m["To"]) for m in handler.messages) == sorted(
        f"Reader {i} <reader{i}@example.org>" for i in range(10)
    )
    assert send(store, config).sent == []


def test_a_rejected_subscriber_is_reported_and_the_others_still_get_theirs(
    store: Store, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    people = (
        Subscriber("bounce@example.org", "Gone", (), Frequency.WEEKLY, day=2, hour=7),
        Subscriber("carol@example.org", "Carol", (), Frequency.WEEKLY, day=2, hour=7),
    )
    report = send(store, digest_config(port, *people))
    assert [email for email, _why in report.failed] == ["bounce@example.org"]
    assert "550" in report.failed[0][1]
    assert report.sent == ["carol@example.org 2026-W48"] and len(handler.messages) == 1


class OneMessageServer:
    """A raw SMTP server on 127.0.0.1 that hangs up after each accepted message, as a
    server with a one-message-per-connection limit (or a short idle timeout) does."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 one.example.net ESMTP\r\n")
            for line in lines:
                command = line.strip().upper()
                if command == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    body = b"".join(iter(lines.readline, b".\r\n"))
                    self.messages.append(body)
                    conn.sendall(b"250 queued\r\n")
                    return  # hang up: one message per connection
                conn.sendall(b"221 bye\r\n" if command == b"QUIT" else b"250 ok\r\n")


def test_a_server_that_hangs_up_between_messages_still_gets_every_digest(store: Store) -> None:
    server = OneMessageServer()
    people = tuple(
        Subscriber(f"reader{i}@example.org", f"Reader {i}", (), Frequency.WEEKLY, day=2, hour=7)
        for i in range(3)
    )
    try:
        report = send(store, digest_config(server.port, *people))
    finally:
        server.listener.close()
    # Before: reader1 failed with "Connection unexpectedly closed" and reader2 with
    # smtplib's "please run connect() first"; one subscriber a run got a digest.
    assert report.failed == []
    assert report.sent == [f"reader{i}@example.org 2026-W48" for i in range(3)]
    assert len(server.messages) == 3


def test_nothing_new_sends_nothing(store: Store, inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    later = WEDNESDAY_8 + timedelta(days=7)  # the next week: no post was stored in it
    alice = Subscriber("alice@example.org", "Alice", (), Frequency.WEEKLY, day=2, hour=7)
    send(store, digest_config(port, alice))
    report = send(store, digest_config(port, alice), later)
    assert report.sent == [] and report.empty == ["alice@example.org"] and len(handler.messages) == 1


def test_dry_run_writes_eml_files_and_records_nothing(tmp_path: Path, screener: Screener) -> None:
    make_site_db(tmp_path / "aggregator.db", screener).close()
    (tmp_path / "feeds.yaml").write_text(
        "database: aggregator.db\n"
        "digest:\n"
        "  from: Test Planet <planet@example.net>\n"
        "  subscribers:\n"
        "    - {email: dana@example.org, name: Dana, frequency: daily, hour: 0}\n"
        "feeds:\n"
        "  - {url: 'https://packet-notes.example.net/feed.xml', name: Packet Notes}\n"
    )
    out = tmp_path / "eml"
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "feeds.yaml"), "digest", "--dry-run", "--out", str(out), "-v"]
    )
    assert result.exit_code == 0, result.output
    # Whatever is due now (the posts were stored on 25 Nov 2026, in the past): the file
    # parses as a message, and nothing is recorded as sent.
    for path in out.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"] == "Dana <dana@example.org>"
    with Store(tmp_path / "aggregator.db") as store:
        assert store.db.execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_subscriber_errors_name_the_subscriber_and_the_field() -> None:
    text = (
        "digest:\n"
        "  from: planet@example.net\n"
        "  subscribers:\n"
        "    - {email: not-an-address}\n"
        "    - {email: eve@example.org, frequency: hourly, hour: 25}\n"
        "feeds: []\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "feeds.yaml")
    message = str(caught.value)
    assert "digest.subscribers[0].email" in message and "not-an-address" in message
    assert "digest.subscribers[1].frequency" in message and "daily or weekly" in message
    assert "digest.subscribers[1].hour" in message and "line 5" in message


def test_unsubscribe_is_mailto_or_https_only() -> None:
    # A plain http: address would carry the one-click unsubscribe in the clear; the
    # README and the message both say mailto: or https:.
    text = "digest:\n  from: planet@example.net\n  unsubscribe: {}\n  subscribers: []\nfeeds: []\n"
    for good in ("mailto:planet@example.net?subject=unsubscribe", "https://planet.example.net/u"):
        config = parse_config(text.format(good), "feeds.yaml")
        assert config.digest is not None and config.digest.unsubscribe == good
    with pytest.raises(ConfigError) as caught:
        parse_config(text.format("http://planet.example.net/u"), "feeds.yaml")
    assert "line 3, digest.unsubscribe: must be a mailto: or https: address" in str(caught.value)
    for unreadable in (
        "https://planet.example.net/u?a=b c",
        "https://planet.example.net/" + "u" * 900,
        "https://planet.example.net/\u00fcnsubscribe",  # written raw, it failed every digest
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config(text.format(f"'{unreadable}'"), "feeds.yaml")
        assert "line 3, digest.unsubscribe: must be one URL of at most 900 characters" in str(caught.value)


def test_the_html_part_renders_in_chromium(store: Store, inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    handler, port = inbox
    send(
        store,
        digest_config(port, Subscriber("erin@example.org", "Erin", (), Frequency.WEEKLY, day=2, hour=7)),
    )
    _text, html = parts(handler.messages[0])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 640, "height": 800})
        page.set_content(html)
        assert page.locator("h2").count() >= 3
        width = page.evaluate("document.documentElement.scrollWidth")
        data = page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
        browser.close()
    assert width <= 640 and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the test server's own advice
def test_starttls_or_implicit_tls_with_login(
    store: Store, certificate: tuple[Path, Path], security: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"planet" and data.password == b"s3cret")

    handler, port = Inbox(), free_port()
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if security == "starttls":
        options.update(tls_context=server_tls, require_starttls=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the start.
        options.update(ssl_context=server_tls, auth_require_tls=False)
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="127.0.0.1", **options)
    controller.start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
        settings = SmtpSettings(
            host="127.0.0.1",
            port=port,
            security=security,
            username="planet",
            password_env="TEST_SMTP_PASSWORD",
            timeout=5,
            ca_file=str(cert),
        )
        config = DigestConfig(
            "Test Planet <planet@example.net>",
            (Subscriber("gil@example.org", "Gil", (), Frequency.WEEKLY, day=2, hour=7),),
            settings,
        )
        report = send(store, config)
    finally:
        controller.stop()
    assert report.sent == ["gil@example.org 2026-W48"] and len(handler.messages) == 1
    assert logins == [(b"planet", b"s3cret")]


def test_check_summarises_the_digest_and_names_an_unknown_topic(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    base = (
        "digest:\n"
        "  from: planet@example.net\n"
        "  smtp: {host: mail.example.net, security: tls}\n"
        "  subscribers:\n"
        "    - {email: hal@example.org, topics: [bgp], frequency: daily}\n"
        "    - {email: ida@example.org, topics: %s}\n"
        "feeds: []\n"
    )
    config.write_text(base % "[multicast]")
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 0, result.output
    assert "digest:    2 subscribers (1 daily, 1 weekly) via mail.example.net:465 (tls)" in result.output
    config.write_text(base % "[multicasting]")
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 2  # a configuration error, as for every other key
    assert (
        "line 6" in result.output and "ida@example.org" in result.output and "'multicasting'" in result.output
    )


# Hostile links a feed may carry, with the link each must be stored and published as
# (None: never a link; the post is shown without one).
HOSTILE_LINKS = (
    (
        "BGP route reflector clusters in a two-tier fabric",
        "http://blog.example.net/posts/'><script>alert(1)</script>",
        "http://blog.example.net/posts/%27%3E%3Cscript%3Ealert(1)%3C/script%3E",
    ),
    (
        "OSPF stub areas and default route injection",
        'https://blog.example.net/posts/"onmouseover="alert(2)',
        "https://blog.example.net/posts/%22onmouseover=%22alert(2)",
    ),
    ("IS-IS wide metrics on a service provider core", "javascript:alert(3)", None),
    ("VXLAN EVPN symmetric IRB on leaf switches", "data:text/html,<script>alert(4)</script>", None),
    ("PIM sparse mode rendezvous point placement", "JaVaScRiPt:alert(5)", None),
    ("IPv6 router advertisements on access ports", "vbscript:msgbox(6)", None),
    (
        "MPLS LDP and IGP synchronization",
        "https://blog.example.net/posts/mpls ldp\tsync\nnotes",
        "https://blog.example.net/posts/mpls%20ldpsyncnotes",
    ),
    (
        "Segment routing with SRv6 micro-SIDs",
        "https://bücher.example/über/segment-routing",
        "https://xn--bcher-kva.example/%C3%BCber/segment-routing",
    ),
    (
        "QoS queuing on 400G data center switches",
        "https://blog.example.net/index.php?p=42&lang=en&utm_source=rss",
        "https://blog.example.net/index.php?p=42&lang=en",
    ),
    (
        "Anycast DNS resolvers and BGP path selection",
        "https://blog.example.net/posts\\dns\\anycast",
        "https://blog.example.net/posts%5Cdns%5Canycast",
    ),
    (
        "RPKI route origin validation at internet exchanges",
        "https://blog.example.net/posts/rpki%20rov/%E2%80%99s-next",
        "https://blog.example.net/posts/rpki%20rov/%E2%80%99s-next",
    ),
)
HOSTILE_AUDIO = "https://media.example.net/ep 1/'><script>alert(7)</script>.mp3"
SAFE_AUDIO = "https://media.example.net/ep%201/%27%3E%3Cscript%3Ealert(7)%3C/script%3E.mp3"


class Tags(HTMLParser):
    """Every element and its attributes, as an HTML parser reads them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def urls(self, *names: str) -> list[str]:
        return [str(a[n]) for _tag, a in self.tags for n in names if a.get(n)]


def hostile_feed() -> bytes:
    items = []
    for i, (title, link, _safe) in enumerate(HOSTILE_LINKS):
        body = (
            f"<p>{title}: notes {i} from a lab with routers and switches, the configuration "
            f"of each device, what the protocol does on the wire, and the show commands "
            f"that tell it works. Part {i} of a series on network design.</p>"
        )
        items.append(
            Item(
                title,
                # Without a guid the first post's id comes from its link.
                guid=None if i == 0 else f"hostile-{i}",
                link=link,
                body=body,
                date="Tue, 24 Nov 2026 09:00:00 GMT",
                enclosure=HOSTILE_AUDIO if i == 1 else None,
            )
        )
    return rss(*items, title="Lab Notes")


def test_hostile_links_reach_the_email_site_and_feeds_only_as_safe_urls(
    server: FeedServer, write_config: WriteConfig, clock: Clock, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    server.routes["/lab.xml"] = Route(body=hostile_feed())
    config = write_config([("/lab.xml", "Lab Notes")])
    with Store(config.database) as db:
        assert update(config, db, clock=clock).new == len(HOSTILE_LINKS)
        stored = {r["title"]: r for r in db.db.query("SELECT title, link, enclosures FROM posts")}
        assert {title: row["link"] for title, row in stored.items()} == {t: s for t, _l, s in HOSTILE_LINKS}
        assert SAFE_AUDIO in stored[HOSTILE_LINKS[1][0]]["enclosures"]
        # A row stored before links were encoded: the publishing side must encode it too.
        title, raw, _safe = HOSTILE_LINKS[0]
        db.db.execute("UPDATE posts SET link = ? WHERE title = ?", [raw, title])
        db.db.conn.commit()
        handler, port = inbox
        reader = Subscriber("jo@example.org", "Jo", (), Frequency.DAILY, hour=7)
        mail = digest_config(port, reader)
        now = clock.now + timedelta(hours=20)  # the next morning's digest
        assert send_digests(db, mail, SITE, load_taxonomy(), environment(None), now).sent
        out = tmp_path / "public"
        build_site(db, SITE, load_taxonomy(), out, now, search=False)
    safe_links = {safe for _title, _link, safe in HOSTILE_LINKS if safe}

    text, html = parts(handler.messages[0])
    # The HTML part: no script anywhere (not even inside an attribute), every link an
    # http(s) URL that RFC 3986 allows with nothing that can end an attribute.
    assert "<script" not in html.lower() and "javascript" not in html.lower()
    page = Tags(html)
    assert not [tag for tag, _attrs in page.tags if tag in ("script", "img", "iframe")]
    hrefs = page.urls("href")
    assert safe_links <= set(hrefs)
    for href in hrefs:
        assert href == mail.unsubscribe or is_safe_http_url(href), href
    # The text part: plain URLs on their own lines, no markup and no HTML entities.
    assert not re.search(r"[<>]|&(?:lt|gt|amp|quot|#)", text) and "javascript" not in text.lower()
    urls = [line.strip() for line in text.splitlines() if line.strip().startswith("http")]
    assert safe_links <= set(urls) and all(is_safe_http_url(u) for u in urls)
    for title, _link, _safe in HOSTILE_LINKS:
        assert title in text and title in html  # shown, with or without its link

    # The site and the feeds made from the same posts.
    published: set[str] = set()
    for path in out.rglob("*.html"):
        source = path.read_text()
        assert "<script>alert" not in source and "javascript:" not in source.lower(), path
        tags = Tags(source)
        for tag, attrs in tags.tags:
            if tag == "script":  # our own files only
                assert attrs.get("src") and not urlsplit(str(attrs["src"])).scheme, path
        for url in tags.urls("href", "src"):
            if urlsplit(url).scheme:
                assert is_safe_http_url(url), (path, url)
                published.add(url)
    assert safe_links | {SAFE_AUDIO} <= published
    for name in ("all.atom", "all.rss"):
        tree = ElementTree.parse(out / "feeds" / name)
        links = []
        for element in tree.iter():
            # By local name: the RSS document declares Atom as its default namespace.
            local = element.tag.rsplit("}", 1)[-1].lower()
            assert local != "script", name
            if local in ("link", "enclosure"):
                links.append(element.get("href") or element.get("url") or (element.text or "").strip())
        assert safe_links | {SAFE_AUDIO} <= set(links), name
        assert all(is_safe_http_url(link) for link in links if "example" in link), name
    document = json.loads((out / "feeds" / "all.json").read_text())
    assert safe_links <= {item.get("url") for item in document["items"]}


def test_css_inline_keeps_attributes_double_quoted_with_quote_and_ampersand_escaped() -> None:
    # What the email's safety rests on: css-inline writes every attribute in double
    # quotes with " and & escaped (it leaves ' < > raw, which stored links never carry).
    import css_inline

    source = (
        "<html><head><style>a { color: red; }</style></head><body>"
        '<a href="https://blog.example.net/a?x=1&amp;y=%22&amp;z=%27%3C%3E" title="say &quot;hi&quot;">'
        "&lt;b&gt;</a></body></html>"
    )
    out = css_inline.inline(source)
    assert 'href="https://blog.example.net/a?x=1&amp;y=%22&amp;z=%27%3C%3E"' in out
    assert 'title="say &quot;hi&quot;"' in out and "&lt;b&gt;" in out and "<b>" not in out
    (anchor,) = [attrs for tag, attrs in Tags(out).tags if tag == "a"]
    assert anchor["href"] == "https://blog.example.net/a?x=1&y=%22&z=%27%3C%3E"


def test_long_titles_and_words_wrap_in_both_parts(
    store: Store, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from aggregator.types import FeedConfig

    # A title that is one 10,000-character word, a title of many words and a
    # hyphenated command in an excerpt, from a feed named by a 200-letter word (two
    # posts of different text: the digest makes near-identical posts one story).
    screener = Screener.load(("en",))
    odd = "https://odd.example.net/feed.xml"
    store.sync_feeds([FeedConfig(odd, "Source" + "N" * 200)], NOW)
    body = (
        "<p>BGP route leaks and RPKI origin validation on peering routers: set update-source loopback0.</p>"
    )
    items = [
        Item("BGP " + "W" * 10000, guid="w", link="https://odd.example.net/w", body=body),
        Item(
            "BGP route leaks " + "and prefix filters " * 20,
            guid="t",
            link="https://odd.example.net/t",
            body="<p>Prefix filters from IRR data, max-prefix limits and RPKI ROV on IXP route servers.</p>",
        ),
    ]
    store_feed(store, screener, odd, rss(*items), NOW, store.start_run(NOW, os.getpid()))
    store.index_topics()
    handler, port = inbox
    send(
        store,
        digest_config(port, Subscriber("erin@example.org", "Erin", (), Frequency.WEEKLY, day=2, hour=7)),
    )
    text, html = parts(handler.messages[-1])
    assert "WWWWWWWWWW" in text and "and prefix filters and prefix filters" in text
    # The text part: every line but a link fits a terminal (RFC 5322 2.1.1's 78), and
    # a command is not split at its hyphen.
    long_lines = [
        line for line in text.splitlines() if len(line) > 78 and not line.strip().startswith("https://")
    ]
    assert long_lines == []
    assert "update-\n" not in text and "update-source" in text
    # The HTML part fits the 600 px it is laid out for.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 600, "height": 800})
        page.set_content(html)
        width = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    assert width <= 600, f"the digest is {width} px wide"


def test_a_source_named_in_arabic_keeps_the_date_after_it(store: Store, inbox: tuple[Inbox, int]) -> None:
    from playwright.sync_api import sync_playwright

    screener = Screener.load(("en",))
    item = Item(
        "BGP route leaks on peering routers",
        guid="a1",
        link="https://arabic.example.net/1",
        body="<p>Route leaks between BGP peers, RPKI origin validation and prefix filters at IXPs.</p>",
    )
    name = "مدونة الشبكات"
    add_feed(store, screener, "https://arabic.example.net/feed.xml", name, rss(item))
    handler, port = inbox
    send(
        store,
        digest_config(port, Subscriber("erin@example.org", "Erin", (), Frequency.WEEKLY, day=2, hour=7)),
    )
    _text, html = parts(handler.messages[-1])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 600, "height": 800})
        page.set_content(html)
        # Where the name ends on the right, and where the date's first digit is drawn.
        name_right, date_left = page.evaluate(
            """name => {
                const meta = [...document.querySelectorAll('p')].find(p => p.textContent.includes(name));
                const walker = document.createTreeWalker(meta, NodeFilter.SHOW_TEXT);
                const box = (node, at, length) => {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + length);
                    return range.getBoundingClientRect();
                };
                let right = null, left = null, node;
                while ((node = walker.nextNode())) {
                    const at = node.data.indexOf(name);
                    if (at >= 0) right = box(node, at, name.length).right;
                    const dot = node.data.indexOf('· ');
                    if (right !== null && dot >= 0 && left === null) left = box(node, dot + 2, 1).left;
                }
                return [right, left];
            }""",
            name,
        )
        browser.close()
    assert name_right is not None and date_left is not None
    assert name_right <= date_left, "the date's day is drawn before the source's name"


def test_addresses_mail_would_read_otherwise_are_refused_by_check() -> None:
    # check accepted them, and every hourly digest run then stopped with a traceback at
    # the first such subscriber: nobody after it got a digest, ever.
    text = "digest:\n  from: {}\n  subscribers:\n    - {{email: '{}'}}\nfeeds: []\n"
    for sender in ("'Planet, News <planet@example.net>'", "'Planet: daily <planet@example.net>'"):
        with pytest.raises(ConfigError) as caught:
            parse_config(text.format(sender, "ann@example.org"), "feeds.yaml")
        assert "line 2, digest.from:" in str(caught.value) and "quote a name" in str(caught.value)
    for address in ("bob.@example.org", "ann@example..org", "jörg@example.org"):
        with pytest.raises(ConfigError) as caught:
            parse_config(text.format("planet@example.net", address), "feeds.yaml")
        assert "line 4, digest.subscribers[0].email:" in str(caught.value), address
        assert "not an address mail can be sent to" in str(caught.value)
    from aggregator.config import mailbox

    assert mailbox("planet@example.net (Network Planet)") == ("Network Planet", "planet@example.net")
    dotted = parse_config(text.format("'Dr. Planet <planet@example.net>'", "ann@example.org"), "f")
    assert dotted.digest is not None and dotted.digest.sender == "Dr. Planet <planet@example.net>"
    quoted = parse_config(text.format("'\"Planet, News\" <planet@example.net>'", "ann@example.org"), "f")
    assert quoted.digest is not None and quoted.digest.sender == '"Planet, News" <planet@example.net>'


def test_a_message_that_cannot_be_written_fails_that_subscriber_and_the_others_get_theirs(
    store: Store, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    people = [
        Subscriber(address, "", (), Frequency.WEEKLY, day=2, hour=7)
        for address in ("ann@example.org", "jörg@example.org", "carol@example.org")
    ]
    config = digest_config(port, *people)
    config = DigestConfig('"Planet, News" <planet@example.net>', config.subscribers, config.smtp, None)
    report = send(store, config)
    assert [m["To"] for m in handler.messages] == ["ann@example.org", "carol@example.org"]
    assert [email for email, _ in report.failed] == ["jörg@example.org"]
    assert "cannot write the message" in report.failed[0][1]
    assert handler.messages[0]["From"].addresses[0].display_name == "Planet, News"


def test_a_long_unsubscribe_url_stays_one_url_in_its_header(store: Store, inbox: tuple[Inbox, int]) -> None:
    # Folded as ordinary text, a URL longer than a line became RFC 2047 encoded-words,
    # which mail clients do not read as an unsubscribe URL.
    handler, port = inbox
    url = (
        "https://planet.example.net/newsletter/unsubscribe?list=network-engineering-weekly&token=0123456789ab"
    )
    config = digest_config(port, Subscriber("ann@example.org", "Ann", (), Frequency.WEEKLY, day=2, hour=7))
    config = DigestConfig(config.sender, config.subscribers, config.smtp, url)
    send(store, config)
    (message,) = handler.messages
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in handler.received[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_digest_over_its_limit_lists_the_newest_and_not_a_new_feeds_back_catalogue(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    # A feed added this week brings its archive: 2010's posts filled the digest's places
    # and this week's were the ones counted, not listed.
    url = "https://new-member.example.net/feed.xml"
    store.sync_feeds([FeedConfig(url, "New Member")], NOW)
    words = "bgp ospf isis evpn vxlan mpls ldp rsvp multicast pim igmp prefix route reflector".split()
    words += "session timer area lsa spf label tunnel fabric leaf spine vlan trunk mtu peering".split()
    pick = random.Random(3)

    def body(i: int) -> str:  # distinct texts: near-identical ones are one story
        return f"<p>Network design note {i}: {' '.join(pick.choices(words, k=30))}.</p>"

    items = [
        Item(
            f"Route reflector design note {i}",
            guid=f"old-{i}",
            date=f"Mon, {1 + i % 28:02d} Mar 2010 08:00:00 GMT",
            body=body(i),
        )
        for i in range(60)
    ]
    items += [
        Item(
            f"OSPF area design this week, part {i}",
            guid=f"new-{i}",
            date=f"Tue, 24 Nov 2026 {i // 60:02d}:{i % 60:02d}:00 GMT",
            body=body(100 + i),
        )
        for i in range(230)
    ]
    store_feed(store, screener, url, rss(*items), NOW, store.start_run(NOW, 1))
    store.index_topics()
    handler, port = inbox
    send(store, digest_config(port, Subscriber("ann@example.org", "Ann", (), Frequency.DAILY, hour=7)))
    (message,) = handler.messages
    text = parts(message)[0]
    assert "Route reflector design note" not in text
    assert "OSPF area design this week, part 229" in text  # the newest are listed
    assert "OSPF area design this week, part 0\n" not in text
    assert "more" in text
    # Gmail clips a message whose HTML passes 102 KB, the unsubscribe link with it.
    html = message.get_body(("html",))
    assert html is not None and len(html.get_content().encode()) < 102_000
    assert "unsubscribe" in html.get_content().lower()


def test_an_empty_password_or_a_refused_login_says_which(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    accepted = {"password": b"s3cret"}

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        # handled=False: a refusal is aiosmtpd's own 535
        return AuthResult(success=data.password == accepted["password"], handled=False)

    port = free_port()
    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        settings = SmtpSettings(
            host="127.0.0.1", port=port, security="none", username="planet", password_env="TEST_PW", timeout=5
        )
        config = DigestConfig(
            "planet@example.net",
            (Subscriber("gil@example.org", "", (), Frequency.WEEKLY, day=2, hour=7),),
            settings,
        )
        monkeypatch.setenv("TEST_PW", "")
        with pytest.raises(DigestError, match=r"\$TEST_PW is empty; export the SMTP password"):
            send(store, config)
        monkeypatch.setenv("TEST_PW", "wrong")
        with pytest.raises(DigestError, match=r"refused the login of 'planet' \(535 .*TEST_PW"):
            send(store, config)
        # A password beyond ASCII, which smtplib cannot encode, goes as AUTH PLAIN in UTF-8.
        monkeypatch.setenv("TEST_PW", "s3crét")
        accepted["password"] = "s3crét".encode()
        assert send(store, config).sent == ["gil@example.org 2026-W48"]
    finally:
        controller.stop()


def test_posts_published_after_they_were_stored_are_in_the_next_digest(
    store: Store, inbox: tuple[Inbox, int], tmp_path: Path, screener: Screener
) -> None:
    # A quarantine released, or an override that allows a dropped post, publishes posts
    # first stored days before: digests chose by first_seen, and they were in none.
    from aggregator.overrides import load_overrides

    handler, port = inbox
    ann = Subscriber("ann@example.org", "Ann", (), Frequency.DAILY, hour=7)
    held_url = "https://hijacked-then-fixed.example.net/feed.xml"
    dropped_url = "https://dropped-then-allowed.example.net/feed.xml"
    store.sync_feeds([FeedConfig(held_url, "Released Blog"), FeedConfig(dropped_url, "Allowed Blog")], NOW)
    held = Item("Resolver anycast behind two IXP route servers", guid="h1", link="https://r.example.net/1")
    dropped = Item("Spring cleaning of the lab rack", guid="d1", link="https://a.example.net/1")
    store_feed(store, screener, held_url, rss(held), NOW, store.start_run(NOW, 1))
    store_feed(store, screener, dropped_url, rss(dropped), NOW, store.start_run(NOW, 1))
    # Held as a quarantine holds a feed's new posts; dropped as screening drops one.
    store.db.execute(
        "UPDATE posts SET status = 'held', screen_status = 'held', reason = 'feed_drift' WHERE feed_url = ?",
        [held_url],
    )
    store.db.execute("UPDATE feeds SET quarantined = ? WHERE url = ?", [NOW.isoformat(), held_url])
    store.db.execute(
        "UPDATE posts SET status = 'dropped', screen_status = 'dropped', reason = 'offtopic' "
        "WHERE feed_url = ?",
        [dropped_url],
    )
    store.db.conn.commit()
    first = send(store, digest_config(port, ann), WEDNESDAY_8)
    assert first.sent and "Resolver anycast" not in parts(handler.messages[0])[0]
    # Two days later the owner releases the feed and allows the other post.
    later = WEDNESDAY_8 + timedelta(days=2)
    assert store.release(held_url, later) == 1
    (tmp_path / "overrides.yaml").write_text("allow:\n  - url: 'https://a.example.net/1'\n")
    store.apply_overrides(load_overrides(tmp_path / "overrides.yaml"), later)
    store.index_topics()
    handler.messages.clear()
    report = send(store, digest_config(port, ann), later + timedelta(days=1))
    assert report.sent, report
    text = parts(handler.messages[0])[0]
    assert (
        "Resolver anycast behind two IXP route servers" in text and "Spring cleaning of the lab rack" in text
    )
    handler.messages.clear()
    send(store, digest_config(port, ann), later + timedelta(days=2))  # told once
    assert not handler.messages or "Resolver anycast" not in parts(handler.messages[0])[0]
    # The allowed post edited (stored again as screening judges it) and settled again, and
    # a deny put on and lifted: not news, not told again.
    edited = Item(
        "Spring cleaning of the lab rack", guid="d1", link="https://a.example.net/1", body="<p>v2</p>"
    )
    edit_time = later + timedelta(days=3)
    store_feed(store, screener, dropped_url, rss(edited), edit_time, store.start_run(edit_time, 1))
    store.apply_overrides(load_overrides(tmp_path / "overrides.yaml"), edit_time)
    (tmp_path / "deny.yaml").write_text("deny:\n  - url: 'https://r.example.net/*'\n")
    store.apply_overrides(load_overrides(tmp_path / "deny.yaml"), edit_time)
    store.apply_overrides(load_overrides(tmp_path / "overrides.yaml"), edit_time)
    store.index_topics()
    handler.messages.clear()
    send(store, digest_config(port, ann), edit_time + timedelta(days=1))
    told = parts(handler.messages[0])[0] if handler.messages else ""
    assert "Spring cleaning of the lab rack" not in told and "Resolver anycast" not in told


def daily_planet(folder: Path, screener: Screener, port: int, *emails: str) -> Path:
    """A feeds.yaml beside a database whose posts were stored and published yesterday
    evening (in the daily digest due since midnight), for daily subscribers at hour 0."""
    store = make_site_db(folder / "aggregator.db", screener)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = (midnight - timedelta(hours=6)).isoformat(timespec="seconds")
    store.db.execute("UPDATE posts SET first_seen = ?, published = ?", [recent, recent])
    store.db.conn.commit()
    store.close()
    subscribers = "".join(f"    - {{email: {email}, frequency: daily, hour: 0}}\n" for email in emails)
    (folder / "feeds.yaml").write_text(
        "database: aggregator.db\n"
        "digest:\n"
        "  from: Test Planet <planet@example.net>\n"
        f"  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 5}}\n"
        "  subscribers:\n"
        f"{subscribers}"
        "feeds:\n"
        "  - {url: 'https://packet-notes.example.net/feed.xml', name: Packet Notes}\n"
    )
    return folder / "feeds.yaml"


def test_a_digest_not_sent_fails_the_command_after_the_others_went_out(
    tmp_path: Path, screener: Screener, inbox: tuple[Inbox, int]
) -> None:
    # With cron's output going to a log, a digest that failed every hour went unnoticed:
    # the command exited 0.
    handler, port = inbox
    daily_planet(tmp_path, screener, port, "bounce@example.org", "dana@example.org")
    config = ["--config", str(tmp_path / "feeds.yaml")]
    result = CliRunner().invoke(cli, [*config, "digest", "-q"])
    assert result.exit_code == 1, result.output
    assert (
        "digest for bounce@example.org not sent: recipient refused: 550 5.1.1 no such mailbox (permanent)"
        in result.output
    )
    assert [m["To"] for m in handler.messages] == ["dana@example.org"]
    # A dry run into a folder that cannot be made names it.
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(
        cli, [*config, "digest", "--dry-run", "--out", str(tmp_path / "a-file" / "eml")]
    )
    assert result.exit_code == 1
    assert f"cannot write {tmp_path / 'a-file' / 'eml'}" in result.output and "Traceback" not in result.output


def test_a_ca_file_that_cannot_be_used_is_named_by_check(tmp_path: Path) -> None:
    # A missing CA file passed check and then failed every digest as "cannot reach the
    # SMTP server", even with security: none.
    text = (
        "digest:\n  from: planet@example.net\n  smtp: {{host: 127.0.0.1, security: {}, ca_file: {}}}\n"
        "  subscribers: []\nfeeds: []\n"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(text.format("starttls", "private-ca.pem"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"line 3, digest.smtp.ca_file: {tmp_path / 'private-ca.pem'} does not exist" in str(caught.value)
    (tmp_path / "private-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = load_config(path)
    assert config.digest is not None and config.digest.smtp.ca_file == str(tmp_path / "private-ca.pem")
    path.write_text(text.format("none", "private-ca.pem"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "digest.smtp.ca_file: is for TLS, and security is none" in str(caught.value)


def test_subscribers_of_one_period_share_its_reading(store: Store, tmp_path: Path) -> None:
    # Each subscriber's digest read and grouped the period's posts again: 50 daily
    # subscribers over 2,000 posts took 13 s (bench: 1 s once shared).
    people = tuple(Subscriber(f"u{i}@example.org", "", (), Frequency.DAILY, hour=7) for i in range(3))
    config = DigestConfig("planet@example.net", people, SmtpSettings(host="127.0.0.1", port=1), None)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    report = send_digests(
        store, config, SITE, load_taxonomy(), environment(None), WEDNESDAY_8, dry_run_to=tmp_path / "eml"
    )
    store.db.conn.set_trace_callback(None)
    assert len(report.written) == 3
    reads = [s for s in statements if "FROM posts p JOIN feeds f" in s]
    assert len(reads) == 1, reads


def test_a_story_one_feed_tells_as_news_is_told_though_a_new_feeds_archive_copy_joins_it(
    store: Store, inbox: tuple[Inbox, int], screener: Screener
) -> None:
    # A feed added today brings an archive post of the same title: the two are one story,
    # and the archive copy (the older) was the one shown, so the story was left out.
    handler, port = inbox
    member, added = "https://links.example.net/feed.xml", "https://archive.example.net/feed.xml"
    store.sync_feeds([FeedConfig(member, "Links Weekly"), FeedConfig(added, "Old Archive")], NOW)
    body = "<p>BGP, OSPF and EVPN reading for the week: route servers, flowspec, anycast DNS.</p>"
    news = Item("Weekly network links", guid="w1", date="Tue, 24 Nov 2026 08:00:00 GMT", body=body)
    archive = Item("Weekly network links", guid="a1", date="Mon, 05 Feb 2024 08:00:00 GMT", body=body)
    store_feed(store, screener, member, rss(news), NOW, store.start_run(NOW, 1))
    store_feed(store, screener, added, rss(archive), NOW, store.start_run(NOW, 1))
    store.index_topics()
    send(store, digest_config(port, Subscriber("ann@example.org", "Ann", (), Frequency.DAILY, hour=7)))
    (message,) = handler.messages
    text = parts(message)[0]
    assert "Weekly network links" in text and "24 Nov 2026" in text


class SlowFilter(Inbox):
    """A server whose content filter takes its time before it answers the end of the data."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(2.5)
        return await super().handle_DATA(server, session, envelope)


def test_a_server_slow_to_accept_a_message_gets_it_once(store: Store) -> None:
    # digest.smtp.timeout (1 s here) is for connecting: the reply to the end of the data
    # may take minutes (RFC 5321 gives it 10). Timed out, the accepted digest was
    # reported "not sent", not recorded, and mailed again by every run.
    handler = SlowFilter()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        alice = Subscriber("alice@example.org", "Alice Example", (), Frequency.WEEKLY, day=2, hour=7)
        quick = SmtpSettings("127.0.0.1", port, "none", timeout=1.0)
        config = replace(digest_config(port, alice), smtp=quick)
        first = send(store, config)
        assert first.sent == ["alice@example.org 2026-W48"] and first.failed == []
        again = send(store, config, WEDNESDAY_8 + timedelta(hours=1))
        assert again.sent == [] and again.failed == []
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_a_sigterm_while_a_digest_is_sent_waits_until_it_is_recorded(
    tmp_path: Path, screener: Screener, cli_env: dict[str, str]
) -> None:
    # Killed between the server's "250" and the record of it, the digest went out again
    # with the next run.
    started = threading.Event()

    class Watched(SlowFilter):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            started.set()
            return await super().handle_DATA(server, session, envelope)

    handler = Watched()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = daily_planet(tmp_path, screener, port, "dana@example.org")
        command = ["aggregator", "--config", str(config), "digest", "-q"]
        process = subprocess.Popen(command, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert started.wait(30), process.communicate(timeout=30)
        process.send_signal(signal.SIGTERM)  # while the server reads the message
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGTERM  # it still ends as SIGTERM says
        with sqlite3.connect(tmp_path / "aggregator.db") as db:
            assert db.execute("SELECT subscriber FROM digests").fetchall() == [("dana@example.org",)]
        again = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert [m["To"] for m in handler.messages] == ["dana@example.org"]
    finally:
        controller.stop()


def test_a_daily_digest_that_covers_missed_days_names_them_all(
    store: Store, inbox: tuple[Inbox, int]
) -> None:
    # The mail server was down for two days: the digest that finally goes covers three.
    handler, port = inbox
    bob = Subscriber("bob@example.org", "", (), Frequency.DAILY, hour=7)
    store.record_digest(
        "bob@example.org", "2026-11-22", NOW - timedelta(days=4), NOW - timedelta(days=3), 1, "<x@y>", NOW
    )
    assert send(store, digest_config(port, bob), WEDNESDAY_8).sent == ["bob@example.org 2026-11-25"]
    assert "Daily digest, 22 Nov to 25 Nov 2026 (" in handler.messages[0]["Subject"]


def test_a_subscribers_unknown_topic_is_an_invalid_configuration_for_digest_as_for_check(
    tmp_path: Path, screener: Screener, inbox: tuple[Inbox, int]
) -> None:
    # check says exit 2 (an invalid configuration); digest said 1, a failed send.
    handler, port = inbox
    config = daily_planet(tmp_path, screener, port, "dana@example.org")
    config.write_text(config.read_text().replace("hour: 0}", "hour: 0, topics: [dnss]}"))
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "-q"])
    assert result.exit_code == 2, result.output
    assert "digest subscriber dana@example.org: unknown topic 'dnss'" in result.output
    assert handler.messages == []
