from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.feedserver import FeedServer, Route
from aggregator.types import Config

DATA = Path(__file__).parent / "data"
FEEDS = DATA / "feeds"
BIN = Path(sys.executable).parent


def fixture_bytes(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    """A second local server: redirects to it must be refused unless allowed."""
    with FeedServer() as srv:
        yield srv


class Clock:
    """A settable clock injected into the pipeline."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))


WriteConfig = Callable[..., Config]


@pytest.fixture
def write_config(tmp_path: Path, server: FeedServer) -> WriteConfig:
    """Write a feeds.yaml for feeds on the test server; return the loaded Config."""

    def write(feeds: list[tuple[str, str]] | list[str], extra: str = "", fetch: str = "") -> Config:
        lines = [
            "fetch:",
            f"  allow_private_addresses: ['{server.host}:{server.port}']",
            "  timeout: 3",
            "  deadline: 5",
        ]
        lines += [f"  {line}" for line in fetch.splitlines() if line.strip()]
        lines.append("feeds:")
        for i, item in enumerate(feeds):
            path, name = (item, f"Feed {i}") if isinstance(item, str) else item
            url = path if path.startswith("http") else server.url(path)
            lines += [f"  - url: {url}", f"    name: {name}"]
        path = tmp_path / "feeds.yaml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return load_config(path)

    return write


def serve_fixture(server: FeedServer, path: str, name: str, **kwargs: object) -> str:
    server.routes[path] = Route(body=fixture_bytes(name), **kwargs)  # type: ignore[arg-type]
    return server.url(path)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
