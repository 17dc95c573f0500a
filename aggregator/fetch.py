"""Fetch feed documents politely and safely. The only module that touches the network.

- one httpx.AsyncClient per address policy, with a guarded network backend that
  resolves every host itself and refuses addresses the policy does not allow, on
  every connection, so every redirect hop is checked by the address actually used;
- redirects followed by hand, so each hop is checked, counted and a permanent one
  recorded;
- conditional GET, a per-host limit, connect/read timeouts, an overall deadline and
  a cap on the decompressed body size;
- the server's word on when to come back: a 429 or 503's Retry-After, and how long a
  response stays fresh (Cache-Control max-age, Expires), each for that feed.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.cookiejar
import ipaddress
import os
import re
import socket
import ssl
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from . import __version__
from .addresses import AddressPolicy
from .errors import BlockedAddress, FetchError
from .oneline import one_line
from .types import FetchResult, FetchSettings, Outcome
from .urls import without_userinfo

PROJECT_URL = "https://github.com/netplanet/aggregator"
USER_AGENT = f"aggregator/{__version__} (network-engineering feed aggregator; +{PROJECT_URL})"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
REDIRECTS = (301, 302, 303, 307, 308)
# Content codings that expand what they decode; httpx decodes them in one piece per
# chunk read, so each layer multiplies what a chunk can become by up to a thousand.
COMPRESSIONS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress"})
MAX_RETRY_AFTER = 7 * 24 * 3600.0


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host, refuses disallowed addresses, then connects to a vetted address.

    Connecting to the address that was checked (not re-resolving the name) closes the
    DNS-rebinding gap; TLS still verifies the host name, which httpcore passes separately.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        refused = [a for a in addresses if not self._policy.permits(a, port)]
        if refused:
            raise BlockedAddress(
                f"{host}:{port}",
                f"{host} resolves to {refused[0]}, a private, loopback, link-local or reserved "
                "address; refused",
            )
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last = exc
        assert last is not None
        raise last

    @staticmethod
    async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]  # a literal: nothing to look up
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except (TimeoutError, OSError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "unix sockets are never used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PerHostTransport(httpx.AsyncBaseTransport):
    """Small connection pools per origin, each behind the address guard.

    httpcore's pool scans every connection it holds on each request, checking each
    idle one with system calls; with one big pool across hundreds of hosts that cost
    grows with the square of the pool. Pools of per_host connections keep it flat, and
    a host allowed many connections at once (per_host: 64 for a planet's own server) gets
    several pools of at most POOL_SIZE, each request going to the least busy one.
    Politeness is the Fetcher's per-host semaphore, not the pools.
    """

    POOL_SIZE = 8

    def __init__(self, settings: FetchSettings, policy: AddressPolicy, ssl_context: ssl.SSLContext) -> None:
        self._settings = settings
        self._policy = policy
        self._ssl_context = ssl_context
        self._pools: dict[tuple[bytes, bytes, int | None, int], httpx.AsyncHTTPTransport] = {}
        self._busy: dict[tuple[bytes, bytes, int | None, int], int] = {}
        self._shards = -(-settings.per_host // self.POOL_SIZE)  # pools per origin

    def _shard(self, url: httpx.URL) -> tuple[bytes, bytes, int | None, int]:
        """The least busy of the origin's pools."""
        keys = [(url.raw_scheme, url.raw_host, url.port, i) for i in range(self._shards)]
        return min(keys, key=lambda key: self._busy.get(key, 0))

    def _pool(self, key: tuple[bytes, bytes, int | None, int]) -> httpx.AsyncHTTPTransport:
        transport = self._pools.get(key)
        if transport is None:
            limit = min(self._settings.per_host, self.POOL_SIZE)
            transport = httpx.AsyncHTTPTransport(
                verify=self._ssl_context,
                limits=httpx.Limits(
                    max_connections=limit, max_keepalive_connections=limit, keepalive_expiry=10.0
                ),
                retries=0,
                trust_env=False,
            )
            pool = getattr(transport, "_pool", None)
            inner = getattr(pool, "_network_backend", None)
            if pool is None or inner is None:  # pragma: no cover - guards an httpx upgrade
                raise RuntimeError("this httpx version hides its connection pool; pin httpx<0.29")
            pool._network_backend = _GuardedBackend(inner, self._policy)
            self._pools[key] = transport
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = self._shard(request.url)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            return await self._pool(key).handle_async_request(request)
        finally:
            self._busy[key] -= 1

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for transport in pools:
            await transport.aclose()


def _guarded_client(settings: FetchSettings, policy: AddressPolicy) -> httpx.AsyncClient:
    # One TLS context for every pool: building one loads the CA bundle, which is slow.
    ssl_context = ssl.create_default_context(cafile=certifi.where())
    return httpx.AsyncClient(
        transport=_PerHostTransport(settings, policy, ssl_context),
        timeout=httpx.Timeout(settings.timeout, pool=None),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": settings.user_agent or USER_AGENT, "Accept": ACCEPT},
        # No cookies kept: the run's client fetches every feed, and one feed's cookies
        # would go with the others' requests to its host (a session leaked, or enough of
        # them to make the server refuse the others' headers).
        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    seconds = _delta_seconds(value)
    if seconds is not None:
        return min(float(seconds), MAX_RETRY_AFTER)
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, min((when - now).total_seconds(), MAX_RETRY_AFTER))


def freshness(headers: httpx.Headers, now: datetime) -> tuple[float, str] | None:
    """How long a response stays fresh by its headers (RFC 9111 4.2.1), in seconds, and
    the header that says so: Cache-Control max-age less Age, else Expires less Date.
    None when they say nothing, forbid reuse (no-store, no-cache) or are malformed (a
    cache treats those as stale)."""
    directives: dict[str, str] = {}
    for part in headers.get_list("cache-control", split_commas=True):
        name, _, value = part.partition("=")
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return None
    if "max-age" in directives:
        seconds = _delta_seconds(directives["max-age"])
        if seconds is None:
            return None
        lived = _delta_seconds(headers.get("age", "")) or 0
        return float(max(0, seconds - lived)), f"Cache-Control: max-age={seconds}"
    sent = _http_date(headers.get("date")) or now
    until = _http_date(headers.get("expires"))
    if until is None:
        return None
    # The date as read, not the header's text: a server may append anything to it.
    return max(0.0, (until - sent).total_seconds()), f"Expires: {until:%a, %d %b %Y %H:%M:%S} GMT"


# Delta-seconds past this are taken as this (RFC 9111 1.2.2: 2^31, about 68 years).
MAX_DELTA_SECONDS = 2**31


def _delta_seconds(value: str) -> int | None:
    """RFC 9111 delta-seconds: ASCII digits only (str.isdigit also takes '²'), at most
    MAX_DELTA_SECONDS however many digits; None when it is not one."""
    value = value.strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return MAX_DELTA_SECONDS if len(value) > 10 else min(int(value), MAX_DELTA_SECONDS)


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date in UTC; None when it cannot be read (or is past the year 9999 in UTC)."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
        return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _validator(response: httpx.Response, name: bytes) -> str | None:
    """A validator (ETag, Last-Modified) as the server sent its bytes: each byte one
    character (Latin-1), so the next request carries back exactly those bytes. httpx's own
    decoding (ASCII, else UTF-8, else Latin-1) cannot be reversed with certainty."""
    for key, value in response.headers.raw:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _wire(value: str) -> bytes:
    """A stored validator as the bytes to send: see _validator. One stored by an earlier
    version, decoded by httpx as UTF-8, goes back as UTF-8; at worst the server does not
    recognise it and sends the feed, whose validators are then stored anew."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _reason(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {status} {phrase}".strip()


class Fetcher:
    """Fetches feeds. Use as `async with Fetcher(settings) as f: await f.fetch(...)`."""

    def __init__(
        self,
        settings: FetchSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        client_factory: Callable[[FetchSettings, AddressPolicy], httpx.AsyncClient] = _guarded_client,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._client_factory = client_factory
        self._clients: dict[AddressPolicy, httpx.AsyncClient] = {}
        self._host_limits: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, policy: AddressPolicy) -> httpx.AsyncClient:
        # A client per policy: a pooled connection opened under a looser policy must
        # never be reused for a feed with a stricter one.
        client = self._clients.get(policy)
        if client is None:
            client = self._clients[policy] = self._client_factory(self.settings, policy)
        return client

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        policy: AddressPolicy | None = None,
    ) -> FetchResult:
        """Fetch one feed. Never raises for a feed problem: the result says what happened."""
        started = time.monotonic()
        policy = policy or AddressPolicy()
        try:
            result = await self._fetch(url, etag, last_modified, policy)
        except TimeoutError:
            result = self._error(
                url, None, f"took longer than the {self.settings.deadline:g} s deadline; gave up"
            )
        except _HopFailed as exc:
            result = self._error(url, None, exc.message)
        except (FetchError, httpx.HTTPError, OSError, ValueError) as exc:  # between the requests
            result = self._error(url, None, self._failure(exc))
        return _with_elapsed(result, time.monotonic() - started)

    def _failure(self, exc: Exception) -> str:
        """What went wrong in one request, in words."""
        if isinstance(exc, FetchError):
            return exc.message
        if isinstance(exc, httpx.TimeoutException):
            kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
            return f"timed out {kind} (timeout {self.settings.timeout:g} s)"
        if isinstance(exc, httpx.HTTPError):
            return _network_failure(exc)
        return f"{type(exc).__name__}: {exc}"

    def _error(
        self, url: str, status: int | None, message: str, outcome: Outcome = Outcome.ERROR, **extra: Any
    ) -> FetchResult:
        # Messages quote what servers send (a Content-Encoding, a Location): never their
        # control characters, which reach the terminal and the health pages; and the
        # addresses they name never carry the user name and password a redirect's relative
        # Location inherits from the configured URL.
        error = one_line(without_userinfo(message) or message)
        return FetchResult(url=url, status=status, error=error, outcome=outcome, **extra)

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, policy: AddressPolicy
    ) -> FetchResult:
        client = self._client(policy)
        current = url
        permanent: str | None = None
        all_permanent = True
        loop = asyncio.get_running_loop()
        # The deadline starts when the first request may go out, not while the feed
        # queues for its host's slot behind other feeds of the same host.
        deadline: float | None = None
        # Cookies a redirect sets, for the next hops of this fetch only (a consent or bot
        # check answers 302 + Set-Cookie back to the same URL); never kept between feeds.
        cookies: dict[str, dict[str, tuple[str, bool]]] = {}
        for _hop in range(self.settings.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return self._error(url, None, f"redirected to '{current}', which is not an http(s) URL")
            # (The configured URL passed `check`; where a server sends a feed may not.)
            if current != url and (problem := _invalid(current)) is not None:
                return self._error(
                    url,
                    None,
                    f"redirected to '{current}', which is not a valid URL ({problem})",
                )
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            host = parts.hostname.lower()
            cookie = _cookie_header(cookies.get(host, {}), parts.scheme)
            if cookie:
                headers["Cookie"] = cookie
            async with self._host_limits[host]:
                deadline = deadline or loop.time() + self.settings.deadline
                try:
                    async with asyncio.timeout_at(deadline):
                        result = await self._request(client, url, current, headers, permanent)
                except TimeoutError:
                    raise
                except (FetchError, httpx.HTTPError, OSError, ValueError) as exc:
                    raise _HopFailed(url, self._hop_failure(url, current, exc)) from exc
            if isinstance(result, tuple) and result[2]:
                _remember(cookies.setdefault(host, {}), result[2], self._clock())
            if isinstance(result, FetchResult):
                return result
            if result[1] and all_permanent:
                permanent = result[0]
            else:
                all_permanent = False
            current = result[0]
        return self._error(
            url,
            None,
            f"more than {self.settings.max_redirects} redirects; stopped at {current}",
        )

    def _hop_failure(self, url: str, current: str, exc: Exception) -> str:
        """The failure of a request to current, a hop of the fetch of url: a redirect's
        target is named, and an address the policy refuses is advice only for the feed's
        own URL (a public feed that redirects to a private address is not to be trusted)."""
        if current == url:
            if isinstance(exc, BlockedAddress):
                return (
                    f"{exc.message} (allow it with fetch.allow_private_addresses, "
                    "or allow_private_addresses: true on this feed)"
                )
            return self._failure(exc)
        return f"redirected to {current}: {self._failure(exc)}"

    async def _request(
        self,
        client: httpx.AsyncClient,
        url: str,
        current: str,
        headers: dict[str, str],
        permanent: str | None,
    ) -> FetchResult | tuple[str, bool, list[str]]:
        """One hop: a final result, or (redirect target, whether it is permanent, the
        Set-Cookie headers of the redirect)."""
        etag = headers.get("If-None-Match")
        last_modified = headers.get("If-Modified-Since")
        wire = {key.encode(): _wire(value) for key, value in headers.items()}
        try:
            async with client.stream("GET", current, headers=wire) as response:
                return await self._answer(url, current, response, etag, last_modified, permanent)
        except httpx.InvalidURL as exc:  # current is valid: the server's Location is not
            return self._error(
                url,
                None,
                f"'{current}' redirected to a Location that is not a valid URL ({exc})",
            )

    async def _answer(
        self,
        url: str,
        current: str,
        response: httpx.Response,
        etag: str | None,
        last_modified: str | None,
        permanent: str | None,
    ) -> FetchResult | tuple[str, bool, list[str]]:
        """The result of one hop's response (_request), its body read."""
        status = response.status_code
        if status in REDIRECTS and "location" in response.headers:
            target = urljoin(current, response.headers["location"].strip())
            return target, status in (301, 308), response.headers.get_list("set-cookie")
        if status == 304 and not (etag or last_modified):
            return self._error(
                url,
                status,
                "HTTP 304 Not Modified to a request that was not a conditional request "
                "(no ETag or Last-Modified was sent): the server never sent the feed",
                final_url=current,
                permanent_redirect=permanent,
            )
        fresh = freshness(response.headers, self._clock()) if self.settings.max_fresh_wait else None
        fresh_for, fresh_by = fresh if fresh else (None, None)
        if status == 304:
            return FetchResult(
                url=url,
                status=status,
                outcome=Outcome.NOT_MODIFIED,
                fresh_for=fresh_for,
                fresh_by=fresh_by,
                etag=_validator(response, b"etag") or etag,
                last_modified=_validator(response, b"last-modified") or last_modified,
                final_url=current,
                permanent_redirect=permanent,
            )
        # An answer from where a redirect led names that address (without the user name
        # and password a relative Location inherits): the configured URL itself answered
        # 301 or 302, and "404" alone would blame it.
        at = f"redirected to {current}: " if current != url else ""
        if status == 410:
            return self._error(
                url,
                status,
                at + "HTTP 410 Gone: the publisher removed this feed; remove it from the configuration",
                Outcome.GONE,
                final_url=current,
                permanent_redirect=permanent,
            )
        if status in (429, 503):
            wait = parse_retry_after(response.headers.get("retry-after"), self._clock())
            note = f"; asked to retry after {wait:.0f} s" if wait is not None else ""
            return self._error(
                url,
                status,
                at + _reason(status) + note,
                retry_after=wait,
                final_url=current,
                permanent_redirect=permanent,
            )
        if status >= 400 or status < 200 or status in REDIRECTS:
            return self._error(
                url, status, at + _reason(status), final_url=current, permanent_redirect=permanent
            )
        try:
            body = await self._read_capped(current, response)
        except FetchError as exc:  # over a limit: the answer was still this status
            return self._error(url, status, at + exc.message, final_url=current, permanent_redirect=permanent)
        return FetchResult(
            url=url,
            status=status,
            body=body,
            body_hash=hashlib.sha256(body).hexdigest(),
            headers=tuple(
                (k.lower(), v)
                for k, v in response.headers.items()
                if k.lower() in ("content-type", "content-location", "content-language")
            ),
            etag=_validator(response, b"etag"),
            last_modified=_validator(response, b"last-modified"),
            fresh_for=fresh_for,
            fresh_by=fresh_by,
            outcome=Outcome.OK,
            final_url=current,
            permanent_redirect=permanent,
        )

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self.settings.max_bytes
        encodings = response.headers.get_list("content-encoding", split_commas=True)
        codings = [coding.strip().lower() for coding in encodings]
        if sum(coding in COMPRESSIONS for coding in codings) > 1:
            # One layer expands a chunk read to at most about 64 MB before the count below
            # sees it; two would expand a few KB to gigabytes. No feed needs two.
            stack = ", ".join(codings)
            raise FetchError(
                url, f"refused: the body is compressed more than once (Content-Encoding: {stack})"
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(
                url, f"body of {int(declared):,} bytes is over the {cap:,}-byte limit (fetch.max_bytes)"
            )
        chunks: list[bytes] = []
        total = 0
        # The bytes as sent count too: after a compressed stream's end, a decoder takes
        # more data in and gives nothing out, so the count below would never see it.
        response.stream = _Capped(response.stream, url, cap)
        # aiter_bytes yields decompressed data, so a gzip bomb is counted at its real size.
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise FetchError(
                    url, f"body is over the {cap:,}-byte limit (fetch.max_bytes) after decompression"
                )
            chunks.append(chunk)
        return b"".join(chunks)


class _Capped(httpx.AsyncByteStream):
    """A response's byte stream as sent, refused past cap bytes."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, url: str, cap: int) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream, self._url, self._cap = stream, url, cap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self._stream:
            total += len(chunk)
            if total > self._cap:
                raise FetchError(
                    self._url, f"body is over the {self._cap:,}-byte limit (fetch.max_bytes) as sent"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


MAX_COOKIES = 20  # a fetch's redirect chain needs one or two
_AGE = re.compile(r"-?[0-9]{1,18}")  # ASCII digits, as many as an age can sensibly have
MAX_COOKIE_CHARS = 4096


def _remember(jar: dict[str, tuple[str, bool]], set_cookies: list[str], now: datetime) -> None:
    """Set-Cookie headers into a fetch's jar for one host: name -> (value, Secure), read
    as RFC 6265 5.2 does (the first name=value; of the attributes, Secure, and a Max-Age
    of 0 or less or an Expires in the past, which remove the cookie), within bounds (a
    redirect that sets thousands would make the next request too large)."""
    for header in set_cookies:
        first, *attributes = header.split(";")
        name, equals, value = first.partition("=")
        name, value = name.strip(), value.strip()
        pair = f"{name}={value}"
        if not (equals and name and pair.isascii() and pair.isprintable()):
            continue
        secure, max_age, expires = False, None, None  # the last of each counts
        for attribute in attributes:
            key, _, given = attribute.partition("=")
            key, given = key.strip().lower(), given.strip()
            if key == "secure":
                secure = True
            elif key == "max-age" and _AGE.fullmatch(given):  # other values are ignored
                max_age = not given.startswith("-") and given.strip("0") != ""
            elif key == "expires" and (when := _http_date(given)) is not None:
                expires = when > now
        # Max-Age wins over Expires (RFC 6265 5.3): a cookie lives unless one says not.
        ended = (max_age is False) if max_age is not None else (expires is False)
        jar.pop(name, None)  # replaced, or removed
        others = sum(len(k) + len(v) + 3 for k, (v, _) in jar.items())  # "name=value; "
        if not ended and len(jar) < MAX_COOKIES and others + len(pair) <= MAX_COOKIE_CHARS:
            jar[name] = (value, secure)


def _cookie_header(jar: dict[str, tuple[str, bool]], scheme: str) -> str:
    """The Cookie header for a hop: a Secure cookie goes over https only."""
    return "; ".join(f"{n}={v}" for n, (v, secure) in jar.items() if scheme == "https" or not secure)


class _HopFailed(FetchError):
    """A request of a fetch failed; its message says what happened, and where."""


# What was being done when the connection failed, by httpx's exception.
_NETWORK_STEPS: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (httpx.ConnectError, "could not connect"),
    (httpx.ReadError, "the connection broke while reading the response"),
    (httpx.WriteError, "the connection broke while sending the request"),
    (httpx.RemoteProtocolError, "the server broke the HTTP exchange"),
    (httpx.ProxyError, "the proxy failed"),
    (httpx.UnsupportedProtocol, "unsupported protocol"),
    (httpx.DecodingError, "the response could not be decoded"),
    (httpx.TooManyRedirects, "too many redirects"),
)


def _network_failure(exc: Exception) -> str:
    """A network error in words: what was being done, and the system's reason
    ("could not connect: Connection refused"), not httpx's class name alone."""
    step = next((text for kind, text in _NETWORK_STEPS if isinstance(exc, kind)), None)
    reason = ""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the OS's word, deepest first found
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = f"TLS certificate not valid: {cause.verify_message or cause.reason}"
            break
        if isinstance(cause, ssl.SSLError):  # its errno is OpenSSL's, not the system's
            reason = f"TLS error: {cause.reason or cause}"
            break
        if isinstance(cause, OSError) and cause.errno:
            reason = os.strerror(cause.errno)
            break
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip()
    if not reason and text and text != "All connection attempts failed":
        reason = text
    if step is None:
        return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return f"{step}: {reason}" if reason else step


def _invalid(url: str) -> str | None:
    """Why a URL cannot be requested (a port out of range, a host name that cannot be
    encoded), or None."""
    try:
        urlsplit(url).port  # noqa: B018 - raises on a port that is not from 0 to 65535
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return str(exc)
    return None


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=elapsed)
