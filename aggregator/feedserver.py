"""A small threaded HTTP server that serves feed documents from memory on loopback.

Used by `aggregator demo` and by the test suite: it can answer with any status,
honour ETag/If-None-Match with 304, gzip, redirect, delay, or trickle a body slowly.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answer If-None-Match with 304
    last_modified: str | None = None
    gzip: bool = False
    encoding: str | None = None  # "gzip" or "deflate"
    delay: float = 0.0  # before the status line
    trickle: float = 0.0  # seconds between single bytes of the body
    chunked: bool = False  # sent in chunks, with no Content-Length
    # A cookie check ("name=value"): a request without that cookie is sent back to the
    # same path with 302 and Set-Cookie, as consent and bot walls do.
    cookie_check: str | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = owner.routes.get(self.path)
            owner.active += 1
            owner.max_active = max(owner.max_active, owner.active)
        try:
            self._answer(route)
        finally:
            with owner.lock:
                owner.active -= 1

    def _answer(self, route: Route | None) -> None:
        if route is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay:
            time.sleep(route.delay)
        if route.cookie_check and route.cookie_check not in self.headers.get("Cookie", ""):
            # With the attributes real walls send (Partitioned, a weekday in Expires).
            cookie = f"{route.cookie_check}; Path=/; Partitioned; Expires=Thursday, 01-Jan-2037 00:00:00 GMT"
            self._send(302, b"", {"Location": self.path, "Set-Cookie": cookie})
            return
        headers = {"Content-Type": route.content_type, **route.headers}
        # A 304 carries the caching headers the 200 would (RFC 9110 15.4.5).
        caching = {k: v for k, v in route.headers.items() if k.lower() in ("cache-control", "expires", "age")}
        if route.etag:
            headers["ETag"] = route.etag
            if self.headers.get("If-None-Match") == route.etag:
                self._send(304, b"", {"ETag": route.etag, **caching})
                return
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
            if route.etag is None and self.headers.get("If-Modified-Since") == route.last_modified:
                self._send(304, b"", {"Last-Modified": route.last_modified, **caching})
                return
        body = route.body
        encoding = "gzip" if route.gzip else route.encoding
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "deflate":
            body = zlib.compress(body)
        if encoding:
            headers["Content-Encoding"] = encoding
        if route.chunked:
            self._send_chunked(route.status, body, headers)
            return
        if route.trickle:
            self.send_response(route.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(route.trickle)
            except OSError:
                pass
            return
        self._send(route.status, body, headers)

    def _send_chunked(self, status: int, body: bytes, headers: dict[str, str], size: int = 65536) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), size):
                chunk = body[start : start + size]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer


class FeedServer:
    """`with FeedServer() as s: s.routes['/a.xml'] = Route(body=...); s.url('/a.xml')`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.active = 0  # requests being answered now
        self.max_active = 0  # the most answered at once, to check per-host limits
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
