"""Fetching from a real HTTP server on 127.0.0.1: politeness, limits and the address guard."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib
from email.utils import formatdate
from pathlib import Path

import pytest
from conftest import fixture_bytes

from aggregator.addresses import AddressPolicy
from aggregator.feedserver import FeedServer, Route
from aggregator.fetch import USER_AGENT, Fetcher, parse_retry_after
from aggregator.types import FetchResult, FetchSettings, Outcome

RSS = fixture_bytes("rss2.xml")


def allow(*servers: FeedServer) -> AddressPolicy:
    return AddressPolicy.from_setting(tuple(f"{s.host}:{s.port}" for s in servers))


def fetch(url: str, policy: AddressPolicy, settings: FetchSettings | None = None, **kw: str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings or FetchSettings(timeout=3, deadline=5)) as fetcher:
            return await fetcher.fetch(url, policy=policy, **kw)

    return asyncio.run(go())


def test_200_stores_validators_and_sends_user_agent(server: FeedServer) -> None:
    server.routes["/f.xml"] = Route(body=RSS, etag='"v1"', last_modified="Mon, 16 Nov 2026 08:00:00 GMT")
    result = fetch(server.url("/f.xml"), allow(server))
    assert result.outcome is Outcome.OK and result.status == 200
    assert result.body == RSS
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 16 Nov 2026 08:00:00 GMT"
    headers = server.requests[-1][1]
    assert headers["user-agent"] == USER_AGENT
    assert "aggregator" in USER_AGENT and "https://" in USER_AGENT
    assert "gzip" in headers["accept-encoding"]


def test_conditional_get_gives_304(server: FeedServer) -> None:
    server.routes["/f.xml"] = Route(body=RSS, etag='"v1"')
    result = fetch(server.url("/f.xml"), allow(server), etag='"v1"')
    assert result.outcome is Outcome.NOT_MODIFIED and result.body is None
    assert server.requests[-1][1]["if-none-match"] == '"v1"'
    server.routes["/lm.xml"] = Route(body=RSS, last_modified="Mon, 16 Nov 2026 08:00:00 GMT")
    result = fetch(server.url("/lm.xml"), allow(server), last_modified="Mon, 16 Nov 2026 08:00:00 GMT")
    assert result.outcome is Outcome.NOT_MODIFIED


def test_gzip_body_is_decompressed(server: FeedServer) -> None:
    server.routes["/z.xml"] = Route(body=RSS, gzip=True)
    assert fetch(server.url("/z.xml"), allow(server)).body == RSS


def test_permanent_redirect_is_recorded_temporary_is_not(server: FeedServer) -> None:
    server.routes["/new.xml"] = Route(body=RSS)
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    server.routes["/tmp.xml"] = Route(status=302, headers={"Location": "/new.xml"})
    server.routes["/p308.xml"] = Route(status=308, headers={"Location": server.url("/new.xml")})
    moved = fetch(server.url("/old.xml"), allow(server))
    assert moved.outcome is Outcome.OK and moved.body == RSS
    assert moved.permanent_redirect == server.url("/new.xml")
    assert fetch(server.url("/p308.xml"), allow(server)).permanent_redirect == server.url("/new.xml")
    assert fetch(server.url("/tmp.xml"), allow(server)).permanent_redirect is None


def test_a_chain_records_where_its_permanent_hops_lead_not_past_a_temporary_one(server: FeedServer) -> None:
    # http -> https moved for good, then a temporary hop (a CDN's signed URL, say): the
    # feed's new address is the one the 301 gave, never the temporary target.
    server.routes["/new.xml"] = Route(body=RSS)
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/moved.xml"})
    server.routes["/moved.xml"] = Route(status=302, headers={"Location": "/new.xml"})
    server.routes["/first-temporary.xml"] = Route(status=302, headers={"Location": "/old.xml"})
    chain = fetch(server.url("/old.xml"), allow(server))
    assert chain.outcome is Outcome.OK and chain.permanent_redirect == server.url("/moved.xml")
    assert fetch(server.url("/first-temporary.xml"), allow(server)).permanent_redirect is None


def test_an_error_where_a_redirect_led_names_that_address(server: FeedServer) -> None:
    # The configured URL answered 302; "HTTP 404" alone would blame it.
    server.routes["/gone.xml"] = Route(status=302, headers={"Location": "/missing.xml"})
    server.routes["/broken.xml"] = Route(status=301, headers={"Location": "/error.xml"})
    server.routes["/error.xml"] = Route(status=500, body=b"oops")
    missing = fetch(server.url("/gone.xml"), allow(server))
    assert missing.error == f"redirected to {server.url('/missing.xml')}: HTTP 404 Not Found"
    broken = fetch(server.url("/broken.xml"), allow(server))
    assert broken.error == f"redirected to {server.url('/error.xml')}: HTTP 500 Internal Server Error"
    assert fetch(server.url("/missing.xml"), allow(server)).error == "HTTP 404 Not Found"
    # A relative Location inherits the configured URL's password: never quoted.
    secret = server.url("/gone.xml").replace("://", "://bob:hunter2@")
    assert "hunter2" not in (fetch(secret, allow(server)).error or "")
    server.routes["/retired.xml"] = Route(status=301, headers={"Location": "/removed.xml"})
    server.routes["/removed.xml"] = Route(status=410)
    retired = fetch(server.url("/retired.xml"), allow(server))
    assert retired.outcome is Outcome.GONE
    assert (retired.error or "").startswith(f"redirected to {server.url('/removed.xml')}: HTTP 410 Gone")


def test_redirect_loop_stops(server: FeedServer) -> None:
    server.routes["/a"] = Route(status=302, headers={"Location": "/b"})
    server.routes["/b"] = Route(status=302, headers={"Location": "/a"})
    result = fetch(server.url("/a"), allow(server))
    assert result.outcome is Outcome.ERROR and "redirects" in (result.error or "")
    # The address it stopped at inherits the configured URL's password: never quoted.
    secret = fetch(server.url("/a").replace("://", "://bob:hunter2@"), allow(server))
    assert "redirects; stopped at" in (secret.error or "") and "hunter2" not in (secret.error or "")


def test_410_marks_gone_and_404_is_an_error(server: FeedServer) -> None:
    server.routes["/gone.xml"] = Route(status=410, body=b"gone")
    gone = fetch(server.url("/gone.xml"), allow(server))
    assert gone.outcome is Outcome.GONE and "410" in (gone.error or "")
    missing = fetch(server.url("/missing.xml"), allow(server))
    assert missing.outcome is Outcome.ERROR and missing.error == "HTTP 404 Not Found"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read(server: FeedServer, status: int) -> None:
    server.routes["/busy"] = Route(status=status, headers={"Retry-After": "3600"})
    result = fetch(server.url("/busy"), allow(server))
    assert result.outcome is Outcome.ERROR and result.retry_after == 3600


def test_freshness_is_read_from_cache_control_or_expires(server: FeedServer) -> None:
    on = FetchSettings(timeout=3, deadline=5, max_fresh_wait=86400)
    server.routes["/max"] = Route(body=RSS, headers={"Cache-Control": "public, max-age=600", "Age": "100"})
    got = fetch(server.url("/max"), allow(server), on)
    assert (got.fresh_for, got.fresh_by) == (500, "Cache-Control: max-age=600")
    expires = formatdate(time.time() + 1800, usegmt=True)
    server.routes["/exp"] = Route(body=RSS, headers={"Expires": expires})
    got = fetch(server.url("/exp"), allow(server), on)
    assert got.fresh_for is not None and 1790 <= got.fresh_for <= 1800
    assert got.fresh_by == f"Expires: {expires}"
    # The 304 says it again, as a server must (RFC 9110 15.4.5).
    server.routes["/etag"] = Route(body=RSS, etag='"v1"', headers={"Cache-Control": "max-age=900"})
    got = fetch(server.url("/etag"), allow(server), on, etag='"v1"')
    assert got.outcome is Outcome.NOT_MODIFIED and got.fresh_for == 900
    # What forbids reuse, or cannot be read, says nothing: the next run asks again.
    for headers in (
        {"Cache-Control": "no-cache"},
        {"Cache-Control": "no-store, max-age=600"},
        {"Cache-Control": "max-age=soon"},
        {"Expires": "0"},
        {"Cache-Control": "max-age=\u00b2"},  # a digit to str.isdigit, not to RFC 9111
        {},
    ):
        server.routes["/x"] = Route(body=RSS, headers=headers)
        got = fetch(server.url("/x"), allow(server), on)
        assert got.outcome is Outcome.OK and got.fresh_for is None, headers
    # 400 digits are a number too large to mean anything but "very long"; a date with
    # junk after it is read as the date; off (the default), nothing is read at all.
    server.routes["/x"] = Route(body=RSS, headers={"Cache-Control": "max-age=" + "9" * 400, "Age": "\u00b9"})
    assert fetch(server.url("/x"), allow(server), on).fresh_for == 2**31
    server.routes["/x"] = Route(body=RSS, headers={"Expires": expires + " " + "A" * 300})
    assert fetch(server.url("/x"), allow(server), on).fresh_by == f"Expires: {expires}"
    assert fetch(server.url("/x"), allow(server)).fresh_for is None


def test_retry_after_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 24 Nov 2026 13:00:00 GMT", now) == 3600
    assert parse_retry_after("soon", now) is None


def test_slow_trickle_hits_the_overall_deadline(server: FeedServer) -> None:
    # One byte every 0.2 s never trips the read timeout; only the deadline stops it.
    server.routes["/slow"] = Route(body=RSS, trickle=0.2)
    started = time.monotonic()
    result = fetch(server.url("/slow"), allow(server), FetchSettings(timeout=1, deadline=1.5))
    assert time.monotonic() - started < 4
    assert result.outcome is Outcome.ERROR and "deadline" in (result.error or "")


def test_read_timeout(server: FeedServer) -> None:
    server.routes["/stall"] = Route(body=RSS, delay=2)
    result = fetch(server.url("/stall"), allow(server), FetchSettings(timeout=0.5, deadline=5))
    assert result.outcome is Outcome.ERROR and "timed out" in (result.error or "")


def test_oversized_body_is_refused(server: FeedServer) -> None:
    server.routes["/big"] = Route(body=b"<rss>" + b"x" * 50_000)
    result = fetch(server.url("/big"), allow(server), FetchSettings(max_bytes=20_000))
    assert result.outcome is Outcome.ERROR and "limit" in (result.error or "")


def test_gzip_bomb_is_counted_after_decompression(server: FeedServer) -> None:
    body = b"<rss>" + b" " * 5_000_000
    assert len(gzip.compress(body)) < 20_000
    server.routes["/bomb"] = Route(body=body, gzip=True)
    result = fetch(server.url("/bomb"), allow(server), FetchSettings(max_bytes=1_000_000))
    assert result.outcome is Outcome.ERROR and "after decompression" in (result.error or "")


def test_data_after_the_end_of_a_compressed_stream_counts_toward_the_limit(server: FeedServer) -> None:
    # A decoder takes in what follows the end of a gzip stream and gives nothing out:
    # counted only after decompression, megabytes streamed in until the deadline.
    body = gzip.compress(RSS) + b"\0" * 3_000_000
    server.routes["/trailing"] = Route(body=body, headers={"Content-Encoding": "gzip"}, chunked=True)
    result = fetch(server.url("/trailing"), allow(server), FetchSettings(max_bytes=1_000_000))
    assert result.outcome is Outcome.ERROR and result.status == 200  # the server's answer, for status
    assert result.error == "body is over the 1,000,000-byte limit (fetch.max_bytes) as sent"


@pytest.mark.parametrize(
    ("location", "error"),
    [
        (
            "data:text/plain,not-a-feed",
            "odd.xml' redirected to a Location that is not a valid URL "
            "(For absolute URLs, path must be empty or begin with '/')",
        ),
        (
            "http://127.0.0.1:99999/feed.xml",
            "redirected to 'http://127.0.0.1:99999/feed.xml', which is not a valid URL "
            "(Port out of range 0-65535)",
        ),
    ],
)
def test_a_redirect_to_an_unusable_url_is_the_feeds_error_in_words(
    server: FeedServer, location: str, error: str
) -> None:
    server.routes["/odd.xml"] = Route(status=302, headers={"Location": location})
    result = fetch(server.url("/odd.xml"), allow(server))
    assert result.outcome is Outcome.ERROR
    assert error in (result.error or ""), result.error
    assert "internal error" not in (result.error or "")


def test_loopback_refused_by_default(server: FeedServer) -> None:
    server.routes["/f.xml"] = Route(body=RSS)
    result = fetch(server.url("/f.xml"), AddressPolicy())
    assert result.outcome is Outcome.ERROR and "refused" in (result.error or "")
    assert "allow it with fetch.allow_private_addresses" in (result.error or "")  # the owner's own URL
    assert server.hits("/f.xml") == 0
    by_name = fetch(f"http://localhost:{server.port}/f.xml", AddressPolicy())
    assert by_name.outcome is Outcome.ERROR and "refused" in (by_name.error or "")
    assert server.hits("/f.xml") == 0


def test_metadata_address_refused() -> None:
    result = fetch("http://169.254.169.254/latest/meta-data/", AddressPolicy())
    assert result.outcome is Outcome.ERROR and "169.254.169.254" in (result.error or "")


def test_redirect_to_another_local_address_is_refused(server: FeedServer, other_server: FeedServer) -> None:
    other_server.routes["/internal"] = Route(body=RSS)
    server.routes["/hop"] = Route(status=302, headers={"Location": other_server.url("/internal")})
    result = fetch(server.url("/hop"), allow(server))
    assert result.outcome is Outcome.ERROR and "refused" in (result.error or "")
    # The owner configured another URL: the message names the redirect, and does not
    # advise allowing an address a feed redirected to.
    assert (result.error or "").startswith(f"redirected to {other_server.url('/internal')}: ")
    assert "allow_private_addresses" not in (result.error or "")
    assert other_server.hits("/internal") == 0
    # Allowed explicitly, the same redirect goes through.
    assert fetch(server.url("/hop"), allow(server, other_server)).outcome is Outcome.OK
    assert fetch(server.url("/hop"), AddressPolicy.allow_all()).outcome is Outcome.OK


def test_non_http_redirect_is_refused(server: FeedServer) -> None:
    server.routes["/file"] = Route(status=301, headers={"Location": "file:///etc/passwd"})
    result = fetch(server.url("/file"), allow(server))
    assert result.outcome is Outcome.ERROR and "not an http(s) URL" in (result.error or "")


def test_per_host_limit_is_respected(server: FeedServer) -> None:
    for i in range(6):
        server.routes[f"/f{i}"] = Route(body=RSS, delay=0.3)

    async def go() -> list[FetchResult]:
        async with Fetcher(FetchSettings(per_host=2, concurrency=10)) as fetcher:
            return await asyncio.gather(
                *(fetcher.fetch(server.url(f"/f{i}"), policy=allow(server)) for i in range(6))
            )

    results = asyncio.run(go())
    assert all(r.outcome is Outcome.OK for r in results)
    assert server.max_active == 2


def test_one_feeds_cookies_never_go_with_another_feeds_requests(server: FeedServer) -> None:
    server.routes["/setter.xml"] = Route(body=RSS, headers={"Set-Cookie": "session=alice-secret; Path=/"})
    server.routes["/other.xml"] = Route(body=RSS)

    async def go() -> list[FetchResult]:
        async with Fetcher(FetchSettings(timeout=3, deadline=5)) as fetcher:
            first = await fetcher.fetch(server.url("/setter.xml"), policy=allow(server))
            return [first, await fetcher.fetch(server.url("/other.xml"), policy=allow(server))]

    results = asyncio.run(go())
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    other = [headers for path, headers in server.requests if path == "/other.xml"]
    assert len(other) == 1 and "cookie" not in other[0]


def test_a_cookie_a_redirect_sets_goes_with_that_fetchs_next_hops_only(server: FeedServer) -> None:
    # A consent or bot wall answers 302 + Set-Cookie back to the same URL: the fetch
    # carries the cookie on, and the next feed's fetch starts without it.
    server.routes["/walled.xml"] = Route(body=RSS, cookie_check="consent=yes")
    server.routes["/other.xml"] = Route(body=RSS)

    async def go() -> list[FetchResult]:
        async with Fetcher(FetchSettings(timeout=3, deadline=5)) as fetcher:
            first = await fetcher.fetch(server.url("/walled.xml"), policy=allow(server))
            return [first, await fetcher.fetch(server.url("/other.xml"), policy=allow(server))]

    walled, other = asyncio.run(go())
    assert walled.outcome is Outcome.OK and walled.body == RSS
    assert [("cookie" in headers) for path, headers in server.requests] == [False, True, False]
    assert other.outcome is Outcome.OK


@pytest.mark.parametrize(
    "host",
    [
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "0x7f.0.0.1",
        "0.0.0.0",
        "127.1",
        "[fe80::1]",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
    ],
)
def test_every_spelling_of_a_private_address_is_refused(server: FeedServer, host: str) -> None:
    # Resolution happens before the check, so numeric tricks end up as the address they mean.
    result = fetch(
        f"http://{host}:{server.port}/f.xml", AddressPolicy(), FetchSettings(timeout=1, deadline=2)
    )
    assert result.outcome is Outcome.ERROR
    assert "refused" in (result.error or "") or "resolve" in (result.error or "")
    assert server.hits("/f.xml") == 0


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible (deprecated)
        "[::ffff:0:7f00:1]",  # SIIT's IPv4-translated form
        "[64:ff9b::a9fe:a9fe]",  # NAT64 to the cloud metadata address
        "[64:ff9b:1::a00:1]",  # NAT64's local-use prefix
        "[2002:7f00:1::1]",  # 6to4 around 127.0.0.1
        "[fec0::1]",  # site-local (deprecated)
    ],
)
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_refused_by_the_policy(
    server: FeedServer, host: str
) -> None:
    # On a network with a NAT64 or 6to4 gateway these reach the IPv4 address inside them:
    # the guard must refuse them itself, not count on the connection failing.
    result = fetch(
        f"http://{host}:{server.port}/f.xml", AddressPolicy(), FetchSettings(timeout=1, deadline=2)
    )
    assert result.outcome is Outcome.ERROR
    assert "private, loopback, link-local or reserved address; refused" in (result.error or "")
    assert server.hits("/f.xml") == 0


def test_ipv6_forms_that_carry_a_public_ipv4_address_are_not_refused() -> None:
    # NAT64 and 6to4 are how an IPv6-only host reaches an IPv4 feed: not refused for that.
    policy = AddressPolicy()
    assert policy.permits("64:ff9b::808:808", 443)
    assert policy.permits("2002:808:808::1", 443)
    assert not policy.permits("64:ff9b::7f00:1", 443)


@pytest.mark.parametrize(
    "address", ["192.0.0.8", "192.88.99.1", "3fff::1", "5f00::1", "64:ff9b::c000:8", "fec0::1"]
)
def test_special_purpose_ranges_are_refused_whatever_pythons_tables_say(address: str) -> None:
    # IETF protocol assignments, the retired 6to4 relay, the IPv6 documentation prefix
    # (RFC 9637) and SRv6 SIDs (RFC 9602): older Pythons call some of them global.
    assert not AddressPolicy().permits(address, 443)
    assert AddressPolicy().permits("8.8.8.8", 443)  # a public address is still permitted


def test_deflate_body_is_decompressed(server: FeedServer) -> None:
    server.routes["/d.xml"] = Route(body=RSS, encoding="deflate")
    assert fetch(server.url("/d.xml"), allow(server)).body == RSS


# Fetches one URL in a fresh process and prints the process's peak RSS in KB: VmHWM, the
# high-water mark of this process's own memory (ru_maxrss would carry over the test
# runner's, which exec does not reset on Linux).
FETCH_AND_MEASURE = """
import asyncio, sys
from aggregator.addresses import AddressPolicy
from aggregator.fetch import Fetcher
from aggregator.types import FetchSettings

async def go():
    async with Fetcher(FetchSettings(timeout=20, deadline=60, max_bytes=1_000_000)) as fetcher:
        return await fetcher.fetch(sys.argv[1], policy=AddressPolicy.allow_all())

result = asyncio.run(go())
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(result.outcome.value, result.error)
"""


def test_stacked_compression_cannot_expand_in_memory_past_the_limit(server: FeedServer) -> None:
    # Each layer of gzip multiplies by up to 1,000: 2 KB gzipped twice is 512 MB, which
    # httpx decoded in one piece, before the limit could count a byte of it.
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    once = inner.compress(b"<rss>") + b"".join(inner.compress(zeros) for _ in range(512)) + inner.flush()
    body = gzip.compress(once, 9)
    assert len(body) < 4_000
    server.routes["/bomb2"] = Route(body=body, headers={"Content-Encoding": "gzip, gzip"})
    measured = subprocess.run(
        [sys.executable, "-c", FETCH_AND_MEASURE, server.url("/bomb2")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    peak_kb, outcome = measured.stdout.splitlines()
    assert int(peak_kb) < 150 * 1024, f"the fetch peaked at {int(peak_kb) // 1024} MB"
    assert outcome.startswith("error") and "gzip, gzip" in outcome, outcome


def test_304_to_a_request_without_validators_is_an_error(server: FeedServer) -> None:
    # Without an ETag or Last-Modified sent there is nothing to be unchanged from: a
    # server answering 304 anyway never delivers the feed, which must not look healthy.
    server.routes["/always304"] = Route(status=304)
    result = fetch(server.url("/always304"), allow(server))
    assert result.outcome is Outcome.ERROR and result.status == 304
    assert "not a conditional request" in (result.error or "")
    assert fetch(server.url("/always304"), allow(server), etag='"v1"').outcome is Outcome.NOT_MODIFIED


def test_a_redirects_cookies_are_read_as_browsers_read_them() -> None:
    from datetime import UTC, datetime

    from aggregator.fetch import _cookie_header, _remember

    now = datetime(2026, 12, 6, tzinfo=UTC)
    jar: dict[str, tuple[str, bool]] = {}
    _remember(
        jar,
        [
            "CONSENT=YES+cb; Path=/; Priority=HIGH",  # an attribute is no cookie of its own
            "sid=abc; Secure; Partitioned; Expires=Thursday, 01-Jan-2037 00:00:00 GMT",
            "gone=1; Max-Age=0",  # the server removes it
            "x" * 5000 + "=1",  # over the bound: never sent
        ],
        now,
    )
    assert _cookie_header(jar, "http") == "CONSENT=YES+cb"  # a Secure cookie over https only
    assert _cookie_header(jar, "https") == "CONSENT=YES+cb; sid=abc"
    _remember(jar, ["CONSENT=; Max-Age=-1", "sid=new; Max-Age=3600"], now)
    assert _cookie_header(jar, "http") == "sid=new"
    _remember(jar, ["sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "a=1; Max-Age=00"], now)
    assert _cookie_header(jar, "https") == ""
    _remember(jar, ["big=" + "v" * 3000, "big=" + "w" * 5000], now)  # a replacement too big
    assert _cookie_header(jar, "https") == ""  # the old value is not sent on
    # Max-Age wins over Expires, whatever their order; a Max-Age no number is ignored.
    _remember(
        jar,
        [
            "a=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "b=2; Max-Age=--1",
            "c=3; Max-Age=\u00b2",
            "d=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Thursday, 01-Jan-2037 00:00:00 GMT",
        ],
        now,
    )
    assert _cookie_header(jar, "https") == "a=1; b=2; c=3; d=4"
    for n in range(30):
        _remember(jar, [f"k{n}=" + "v" * 300], now)
    assert len(_cookie_header(jar, "https")) <= 4096


def test_a_refused_connection_and_a_reset_mid_body_are_said_in_words() -> None:
    # `status` shows this text; "ReadError" or "All connection attempts failed" told the
    # owner nothing.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    refused = fetch(f"http://127.0.0.1:{port}/feed.xml", AddressPolicy.allow_all())
    assert refused.outcome is Outcome.ERROR and refused.error == "could not connect: Connection refused"

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer_then_reset() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
        conn.sendall(b"Content-Length: 5000\r\n\r\n<rss")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        conn.close()

    thread = threading.Thread(target=answer_then_reset, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
        reset = fetch(url, AddressPolicy.allow_all())
    finally:
        thread.join(5)
        listener.close()
    assert reset.outcome is Outcome.ERROR
    assert reset.error == "the connection broke while reading the response: Connection reset by peer"


def test_a_certificate_that_does_not_verify_is_named(certificate: tuple[Path, Path]) -> None:
    # An OpenSSL error code read as a system errno said "Operation not permitted".
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def handshake() -> None:
        conn, _ = listener.accept()
        with contextlib.suppress(OSError):
            context.wrap_socket(conn, server_side=True).close()
        conn.close()

    thread = threading.Thread(target=handshake, daemon=True)
    thread.start()
    try:
        result = fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/f.xml", AddressPolicy.allow_all())
    finally:
        thread.join(5)
        listener.close()
    assert result.error == "could not connect: TLS certificate not valid: self-signed certificate"
