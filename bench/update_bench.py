"""Benchmark `aggregator update` against the `reader` library and `newsboat` on the same feeds.

Not a test: it prints a table and exits 0 whatever the numbers are.

What it does:

1. generates N synthetic RSS 2.0 feeds in memory (deterministic, `--seed`), 20-50 items each
   with 1-5 KB of HTML in content:encoded;
2. serves them from a separate process: an asyncio HTTP/1.1 server with keep-alive, listening
   on one port of many loopback addresses (127.0.0.2, 127.0.0.3, ...; ~4 feeds per address),
   waiting `--latency` seconds before every response and answering conditional requests
   (If-None-Match, If-Modified-Since) with 304;
3. runs each tool twice in a fresh temporary directory (first run: every feed is new; second
   run: every feed answers 304), measuring wall time, CPU time of the whole process tree,
   the peak of the summed RSS of the process tree (sampled every 20 ms) and the posts stored;
4. prints a table, the wall-time ratios and the targets with PASS/MISS.

All traffic goes to 127.0.0.0/8. Run with the project's virtualenv:

    .venv/bin/python bench/update_bench.py --feeds 100      # quick
    .venv/bin/python bench/update_bench.py                  # 1000 feeds, all three tools
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import hashlib
import importlib.util
import ipaddress
import math
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

TOOLS = ("ours", "reader", "newsboat")
SAMPLE_INTERVAL = 0.02  # seconds between RSS samples of a process tree
# PSS costs the kernel a walk of the page tables (about 0.6 ms for a 130 MB process),
# which the sampler would take from the tool it measures: sampled less often.
PSS_EVERY = 5  # RSS samples per PSS sample
READY_DEADLINE = 30.0  # seconds for the feed server to accept connections
ORPHAN_DEADLINE = 30.0  # seconds for processes left behind by a tool to exit
WORKERS = 16  # reader's update_feeds(workers=...) and newsboat's reload-threads
MB = 1024 * 1024

# Server statistics, shared with the server process: counts of responses by kind.
STAT_200, STAT_304, STAT_OTHER = 0, 1, 2

# ---------------------------------------------------------------------------------------------
# Synthetic feeds
# ---------------------------------------------------------------------------------------------

_VOCABULARY = (
    "router switch packet frame latency jitter throughput bandwidth prefix route neighbor "
    "adjacency session keepalive timer hold-down convergence topology spine leaf fabric underlay "
    "overlay tunnel encapsulation decapsulation VXLAN EVPN MPLS label LSP segment SRv6 BGP OSPF "
    "IS-IS RIP EIGRP LDP RSVP multicast PIM IGMP anycast unicast broadcast subnet netmask CIDR "
    "IPv4 IPv6 ARP NDP MAC VLAN trunk access port LACP bond MTU fragmentation checksum TCP UDP "
    "QUIC handshake window congestion retransmit ECN DSCP QoS queue scheduler shaper policer "
    "buffer microburst telemetry gNMI NETCONF YANG RESTCONF SNMP syslog NetFlow IPFIX sFlow "
    "firewall ACL NAT PAT conntrack stateful stateless DDoS mitigation RPKI ROA origin "
    "validation community large-community local-preference MED AS-path prepend route-map "
    "policy filter aggregate summarization redistribution peering transit IXP upstream downstream "
    "datacenter campus WAN SD-WAN backbone edge core distribution optics transceiver QSFP "
    "breakout ASIC pipeline TCAM FIB RIB ECMP hashing load-balancing failover BFD graceful "
    "restart nonstop routing control-plane data-plane management-plane automation Ansible "
    "Python intent validation digital-twin lab containerlab emulation capture Wireshark pcap "
    "DNS DHCP NTP PTP timestamp clock resolver recursive authoritative DNSSEC TLS certificate "
    "outage incident postmortem capacity planning migration rollout canary maintenance window"
)
WORDS = tuple(dict.fromkeys(_VOCABULARY.split()))

CODE_LINES = (
    "router bgp {asn}",
    " neighbor 192.0.2.{a} remote-as {peer}",
    " neighbor 192.0.2.{a} route-map IMPORT-{tag} in",
    "interface Ethernet{a}/{b}",
    " mtu {mtu}",
    " ip address 198.51.100.{a}/31",
    "ip prefix-list PL-{tag} seq {seq} permit 203.0.113.0/24 le 28",
    "route-map EXPORT-{tag} permit {seq}",
    " set community {asn}:{seq} additive",
    "$ ping -c 3 -s {mtu} 2001:db8::{a}",
    "$ traceroute -n 198.51.100.{b}",
    "$ show bgp ipv6 unicast summary | include {peer}",
    "vlan {vlan}",
    " name {tag}-servers",
)


@dataclass(frozen=True)
class FeedDoc:
    """One synthetic feed: where it is served and what it answers."""

    url: str
    path: str
    body: bytes
    etag: str
    last_modified: str
    last_modified_ts: float
    items: int


def loopback_hosts(count: int) -> list[str]:
    """`count` loopback addresses from 127.0.0.2 upwards, skipping .0 and .255."""
    hosts: list[str] = []
    address = ipaddress.IPv4Address("127.0.0.2")
    while len(hosts) < count:
        if address not in ipaddress.IPv4Network("127.0.0.0/8"):
            raise ValueError(f"too many hosts: {count}")
        if str(address).rsplit(".", 1)[1] not in ("0", "255"):
            hosts.append(str(address))
        address += 1
    return hosts


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 22))
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + rng.choice((".", ".", ".", "?", "!"))


def _paragraph(rng: random.Random, sentences: Sequence[str]) -> str:
    parts = [escape(s) for s in rng.sample(sentences, rng.randint(2, 5))]
    # Some absolute links, some relative ones (resolved against the item link).
    for _ in range(rng.randint(0, 2)):
        word = escape(rng.choice(WORDS))
        kind = rng.random()
        if kind < 0.4:
            href = f"https://www.example.net/{word.lower()}/{rng.randint(1, 9999)}"
        elif kind < 0.7:
            href = f"/notes/{word.lower()}-{rng.randint(1, 999)}.html"
        else:
            href = f"../{rng.choice(('img', 'files', 'posts'))}/{word.lower()}.html"
        parts.insert(rng.randrange(len(parts) + 1), f'see <a href="{escape(href)}">{word}</a>')
    if rng.random() < 0.3:
        parts.append(f"<strong>{escape(rng.choice(WORDS))}</strong> <em>{escape(rng.choice(WORDS))}</em>")
    return f"<p>{' '.join(parts)}</p>"


def _code_block(rng: random.Random) -> str:
    lines = []
    for template in rng.sample(CODE_LINES, rng.randint(3, 8)):
        lines.append(
            template.format(
                asn=rng.randint(64512, 65534),
                peer=rng.randint(64512, 65534),
                a=rng.randint(1, 254),
                b=rng.randint(1, 48),
                mtu=rng.choice((1500, 9000, 9216, 1280)),
                tag=rng.choice(WORDS).upper(),
                seq=rng.randint(1, 99) * 5,
                vlan=rng.randint(2, 4094),
            )
        )
    language = rng.choice(("text", "cisco", "junos", "shell"))
    return f'<pre><code class="language-{language}">{escape(chr(10).join(lines))}</code></pre>'


def _content(rng: random.Random, sentences: Sequence[str]) -> str:
    """1-5 KB of HTML: paragraphs with links, one <pre><code> block, sometimes a list."""
    target = rng.randint(1024, 4600)  # the last block may go a little past it
    blocks = [_paragraph(rng, sentences)]
    size = len(blocks[0])
    code_at = rng.randint(1, 3)
    while size < target:
        if len(blocks) == code_at:
            block = _code_block(rng)
        elif rng.random() < 0.15:
            items = "".join(f"<li>{escape(s)}</li>" for s in rng.sample(sentences, rng.randint(2, 4)))
            block = f"<ul>{items}</ul>"
        elif rng.random() < 0.1:
            block = f'<p><img src="images/{rng.randint(1, 500)}.png" alt="{escape(rng.choice(WORDS))}"></p>'
        else:
            block = _paragraph(rng, sentences)
        blocks.append(block)
        size += len(block)
    if code_at >= len(blocks):
        blocks.append(_code_block(rng))
    return "\n".join(blocks)


def _title(rng: random.Random) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in rng.choices(WORDS, k=rng.randint(3, 9)))


def generate_feeds(count: int, hosts: Sequence[str], port: int, seed: int) -> list[FeedDoc]:
    """`count` RSS 2.0 documents, each on hosts[i % len(hosts)]; the same for the same seed."""
    rng = random.Random(seed)
    sentences = [_sentence(rng) for _ in range(4000)]
    epoch = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    feeds = []
    for index in range(count):
        host = hosts[index % len(hosts)]
        site = f"http://{host}:{port}/blog{index}"
        path = f"/blog{index}/feed.xml"
        url = f"http://{host}:{port}{path}"
        items = []
        when = epoch - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        newest = when
        for number in range(rng.randint(20, 50)):
            slug = "-".join(w.lower() for w in rng.choices(WORDS, k=3))
            guid = f"blog{index}-post{number}-{rng.getrandbits(40):010x}"
            link = f"{site}/posts/{number}-{slug}.html"
            content = _content(rng, sentences)
            items.append(
                "    <item>\n"
                f"      <title>{escape(_title(rng))}</title>\n"
                f"      <link>{escape(link)}</link>\n"
                f'      <guid isPermaLink="false">{guid}</guid>\n'
                f"      <pubDate>{format_datetime(when, usegmt=True)}</pubDate>\n"
                f"      <content:encoded><![CDATA[{content}]]></content:encoded>\n"
                "    </item>\n"
            )
            when -= timedelta(minutes=rng.randint(30, 60 * 24 * 7))
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:atom="http://www.w3.org/2005/Atom">\n'
            "  <channel>\n"
            f"    <title>Blog {index}: {escape(_title(rng))}</title>\n"
            f"    <link>{site}/</link>\n"
            f'    <atom:link href="{url}" rel="self" type="application/rss+xml"/>\n'
            f"    <description>{escape(sentences[index % len(sentences)])}</description>\n"
            "    <language>en</language>\n"
            f"    <lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
            + "".join(items)
            + "  </channel>\n</rss>\n"
        )
        body = text.encode("utf-8")
        feeds.append(
            FeedDoc(
                url=url,
                path=path,
                body=body,
                etag=f'"{hashlib.sha1(body).hexdigest()[:20]}"',
                last_modified=format_datetime(newest, usegmt=True),
                last_modified_ts=newest.timestamp(),
                items=len(items),
            )
        )
    return feeds


# ---------------------------------------------------------------------------------------------
# Feed server (runs in its own process)
# ---------------------------------------------------------------------------------------------


def raise_nofile_limit() -> int:
    """Raise the soft open-file limit to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class _DateCache:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._value = now, formatdate(now, usegmt=True).encode()
        return self._value


def _not_modified(doc: FeedDoc, headers: dict[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip() for t in if_none_match.split(",")}
        return "*" in tags or doc.etag in tags or f"W/{doc.etag}" in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return doc.last_modified_ts <= since.timestamp()
    return False


async def _serve(
    routes: dict[str, FeedDoc], hosts: list[str], port: int, latency: float, stats: Any, ready: Any
) -> None:
    dates = _DateCache()

    def respond(method: str, target: str, headers: dict[str, str]) -> tuple[int, list[str], bytes]:
        if target.startswith(("http://", "https://")):
            target = urlsplit(target).path or "/"
        doc = routes.get(target.split("?", 1)[0])
        if method not in ("GET", "HEAD"):
            return 405, ["Allow: GET, HEAD", "Content-Length: 0"], b""
        if doc is None:
            return 404, ["Content-Type: text/plain", "Content-Length: 10"], b"not found\n"
        validators = [f"ETag: {doc.etag}", f"Last-Modified: {doc.last_modified}"]
        if _not_modified(doc, headers):
            return 304, validators, b""
        extra = ["Content-Type: application/rss+xml", f"Content-Length: {len(doc.body)}", *validators]
        return 200, extra, doc.body

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, _, rest = head.decode("latin-1").partition("\r\n")
                parts = request_line.split()
                headers: dict[str, str] = {}
                for line in rest.split("\r\n"):
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    writer.write(BAD_REQUEST)
                    await writer.drain()
                    return
                method, target, version = parts
                length = headers.get("content-length", "0")
                if length.isdigit() and int(length):
                    await reader.readexactly(int(length))
                connection = headers.get("connection", "").lower()
                if version == "HTTP/1.1":
                    keep_alive = "close" not in connection
                else:
                    keep_alive = "keep-alive" in connection
                if latency > 0:
                    await asyncio.sleep(latency)
                status, extra, body = respond(method, target, headers)
                stats[STAT_200 if status == 200 else STAT_304 if status == 304 else STAT_OTHER] += 1
                lines = [
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                    f"Date: {dates.get().decode()}",
                    "Server: update-bench",
                    *extra,
                    f"Connection: {'keep-alive' if keep_alive else 'close'}",
                    "",
                    "",
                ]
                writer.write("\r\n".join(lines).encode("latin-1"))
                if method == "GET" and body:
                    writer.write(body)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host=hosts, port=port, backlog=1024, reuse_address=True)
    ready.set()  # bound on every address: connections from now on reach this server
    async with server:
        await server.serve_forever()


def serve_forever(
    routes: dict[str, FeedDoc], hosts: list[str], port: int, latency: float, stats: Any, ready: Any
) -> None:
    """Entry point of the server process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    raise_nofile_limit()
    asyncio.run(_serve(routes, hosts, port, latency, stats, ready))


@dataclass
class FeedServer:
    """The server process and its shared response counters."""

    process: multiprocessing.process.BaseProcess
    stats: SynchronizedArray[int]

    def counts(self) -> tuple[int, int, int]:
        return self.stats[STAT_200], self.stats[STAT_304], self.stats[STAT_OTHER]

    def cpu(self) -> float:
        """User + system CPU seconds used by the server process so far."""
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


SHARED_SERVER = Path(__file__).resolve().parents[2] / "shared" / "bench" / "feedserver.py"


@dataclass
class SharedFeedServer:
    """../shared/bench/feedserver.py in its own process: the mixed corpus (RSS, Atom and
    podcasts, every feed on 127.0.0.1) that speed is also judged on."""

    process: subprocess.Popen[bytes]
    base: str

    def counts(self) -> tuple[int, int, int]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.base}/__stats", timeout=10) as response:
            stats = json.loads(response.read())
        ok, not_modified = stats.get("status_200", 0), stats.get("status_304", 0)
        other = sum(v for k, v in stats.items() if k.startswith("status_")) - ok - not_modified
        return ok, not_modified, other

    def cpu(self) -> float:
        """User + system CPU seconds used by the server process so far."""
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_shared_server(
    script: Path, n: int, port: int, latency: float, out: Path
) -> tuple[SharedFeedServer, list[FeedDoc], int]:
    """Start the shared feed server with n feeds; (server, the feeds, items expected)."""
    import json

    process = subprocess.Popen(
        [
            sys.executable,
            str(script),
            "--n",
            str(n),
            "--port",
            str(port),
            "--latency-ms",
            str(latency * 1000),
            "--out-dir",
            str(out),
            "--no-broken",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = SharedFeedServer(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + READY_DEADLINE * 4  # it builds every document first
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the shared feed server exited (code {process.returncode}); is port {port} in use?"
            )
        try:
            server.counts()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("the shared feed server did not answer in time") from None
            time.sleep(0.2)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    feeds = [
        FeedDoc(feed["url"], urlsplit(feed["url"]).path, b"", "", "", 0.0, feed["entries"])
        for feed in manifest["feeds"]
    ]
    return server, feeds, int(manifest["expected_entries_wellformed"])


def start_server(feeds: Sequence[FeedDoc], hosts: list[str], port: int, latency: float) -> FeedServer:
    """Fork the server process and wait, with a deadline, until every address accepts."""
    context = multiprocessing.get_context("fork")  # the feeds are inherited, not pickled
    stats = context.Array("q", 3)
    ready = context.Event()
    routes = {doc.path: doc for doc in feeds}
    process = context.Process(
        target=serve_forever,
        args=(routes, hosts, port, latency, stats, ready),
        name="feed-server",
        daemon=True,
    )
    process.start()
    server = FeedServer(process, stats)
    deadline = time.monotonic() + READY_DEADLINE
    pending = list(hosts)
    # First the server says it has bound every address (so nothing else answers on the port),
    # then each address must accept a connection.
    while not ready.wait(0.02) or pending:
        if not process.is_alive():
            raise RuntimeError(f"the feed server exited (code {process.exitcode}); is port {port} in use?")
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the feed server did not accept connections within {READY_DEADLINE:g} s")
        if not ready.is_set():
            continue
        try:
            with socket.create_connection((pending[-1], port), timeout=1.0):
                pending.pop()
        except OSError:
            time.sleep(0.02)
    return server


# ---------------------------------------------------------------------------------------------
# Measuring a process tree
# ---------------------------------------------------------------------------------------------


def _psutil() -> Any:
    """psutil, installed into this interpreter's environment with pip if missing."""
    if importlib.util.find_spec("psutil") is None:
        print("psutil is missing: pip install psutil", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "psutil"], check=True)
        importlib.invalidate_caches()
    import psutil

    return psutil


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far; 0 once it is gone."""
    try:
        times = _psutil().Process(pid).cpu_times()
    except Exception:  # gone: nothing to report
        return 0.0
    return float(times.user + times.system)


class PeakTreeMemory:
    """Samples the memory of a process and all its descendants; keeps the peaks of two sums.

    - PSS (proportional set size): each page counts once in all, split between the
      processes that share it. The sum is the memory the tree really uses, also for a
      tool whose worker processes are forked and share their parent's pages.
    - RSS: each process counts every page it maps. Summed over forked processes it
      counts shared pages once per process: an upper bound, shown for comparison.

    For a single process the two differ only by the share of libraries that other
    processes on the machine also map.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self._psutil = _psutil()
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self.peak_pss = 0
        self.peak_rss = 0
        self.samples = 0

    def __enter__(self) -> PeakTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self, root: Any) -> None:
        pss = rss = 0
        with_pss = self.samples % PSS_EVERY == 0
        try:
            processes = [root, *root.children(recursive=True)]
        except self._psutil.Error:
            return
        for process in processes:
            with contextlib.suppress(self._psutil.Error):
                if with_pss:
                    info = process.memory_full_info()  # reads /proc/PID/smaps_rollup
                    pss += info.pss
                    rss += info.rss
                else:
                    rss += process.memory_info().rss
        self.samples += 1
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        try:
            root = self._psutil.Process(self._pid)
        except self._psutil.Error:
            return
        self._sample(root)
        while not self._stop.wait(self._interval):
            self._sample(root)


def machine_cpu() -> tuple[float, float]:
    """Linux: (busy, stolen) CPU seconds of the whole machine so far, summed over all CPUs.

    busy is user + nice + system + irq + softirq; stolen is what the hypervisor gave to
    other guests. (0, 0) where /proc/stat is not available.
    """
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def become_subreaper() -> bool:
    """Linux: orphaned descendants (a tool's forkserver, say) are re-parented to this process.

    We then wait for them, so their CPU time lands in RUSAGE_CHILDREN like everything else.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, 1, 0, 0, 0) == 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans(exclude: set[int]) -> int:
    """Wait for children we did not start directly (re-parented orphans); returns how many."""
    psutil = _psutil()
    me = psutil.Process()
    deadline = time.monotonic() + ORPHAN_DEADLINE
    reaped = 0
    while True:
        pids = [child.pid for child in me.children() if child.pid not in exclude]
        if not pids:
            return reaped
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                done, _status = os.waitpid(pid, os.WNOHANG)
                reaped += done == pid
        if time.monotonic() > deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    print(f"  killing process {pid} left behind by the tool", flush=True)
                    os.kill(pid, signal.SIGKILL)
            deadline = math.inf
        time.sleep(0.01)


@dataclass
class Measurement:
    wall: float
    cpu: float
    peak_pss: int  # peak of the summed PSS of the tool's processes
    peak_rss: int  # peak of the summed RSS (counts pages shared by forked processes twice)
    returncode: int
    responses: tuple[int, int, int]  # 200s, 304s, others answered by the server meanwhile
    server_cpu: float  # CPU seconds the feed server used meanwhile
    other_cpu: float  # CPU seconds used meanwhile by processes that are neither tool, server nor us
    steal: float  # CPU seconds the hypervisor gave to others meanwhile (all CPUs)
    orphans: int = 0


def measure(
    command: Sequence[str], cwd: Path, env: dict[str, str], log: Path, server: FeedServer | SharedFeedServer
) -> Measurement:
    """Run one command to completion; wall, CPU (user+sys) and the tree's peak memory."""
    before_responses, before_server = server.counts(), server.cpu()
    before_machine, before_own = machine_cpu(), own_cpu()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        with PeakTreeMemory(process.pid) as sampler:
            returncode = process.wait()
        wall = time.perf_counter() - start
    orphans = reap_orphans({server.process.pid or -1})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    after_responses = server.counts()
    responses = (
        after_responses[0] - before_responses[0],
        after_responses[1] - before_responses[1],
        after_responses[2] - before_responses[2],
    )
    server_cpu = server.cpu() - before_server
    after_machine = machine_cpu()
    busy, steal = after_machine[0] - before_machine[0], after_machine[1] - before_machine[1]
    other_cpu = max(0.0, busy - cpu - server_cpu - (own_cpu() - before_own)) if busy else 0.0
    return Measurement(
        wall,
        cpu,
        sampler.peak_pss,
        sampler.peak_rss,
        returncode,
        responses,
        server_cpu,
        other_cpu,
        steal,
        orphans,
    )


# ---------------------------------------------------------------------------------------------
# The tools
# ---------------------------------------------------------------------------------------------

READER_ADD = """
import sys
from reader import make_reader
with make_reader(sys.argv[1]) as r:
    for url in open(sys.argv[2], encoding="utf-8").read().split():
        r.add_feed(url, exist_ok=True)
"""

READER_UPDATE = """
import inspect, sys
from reader import make_reader
with make_reader(sys.argv[1]) as r:
    # reader >= 3.21 updates only feeds that are due by default; update every feed, as the others do.
    extra = {"scheduled": False} if "scheduled" in inspect.signature(r.update_feeds).parameters else {}
    r.update_feeds(workers=int(sys.argv[2]), **extra)
"""


@dataclass
class Tool:
    """How to set up, run and count posts for one tool."""

    name: str
    prepare: Callable[[Path, Sequence[FeedDoc], dict[str, str], Path], None]
    command: Callable[[Path], list[str]]
    database: str  # relative to the work directory
    count_sql: str


def _ours_command() -> list[str]:
    script = Path(sys.executable).with_name("aggregator")
    if script.exists():
        return [str(script)]
    found = shutil.which("aggregator")
    return [found] if found else [sys.executable, "-m", "aggregator.cli"]


def prepare_ours(work: Path, feeds: Sequence[FeedDoc], env: dict[str, str], log: Path) -> None:
    # max_fresh_wait 0 (the default, said here for whoever changes it): the second run
    # asks for every feed, as the other tools do, though the shared corpus's server says
    # its feeds stay fresh for 5 minutes (max-age=300) and an hour (<ttl>60</ttl>).
    lines = ["database: bench.db", "fetch:", "  allow_private_addresses: true", "  max_fresh_wait: 0"]
    if len({urlsplit(doc.url).hostname for doc in feeds}) == 1 and len(feeds) > 1:
        # Every feed on one host (the shared corpus): politeness would measure itself,
        # not the tool; the other tools open 16 connections at once to it.
        lines.append("  per_host: 128")
    lines.append("feeds:")
    for index, doc in enumerate(feeds):
        lines += [f"  - url: {doc.url}", f"    name: Blog {index}"]
    (work / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def command_ours(work: Path) -> list[str]:
    return [*_ours_command(), "--config", str(work / "feeds.yaml"), "update", "-q"]


def prepare_reader(work: Path, feeds: Sequence[FeedDoc], env: dict[str, str], log: Path) -> None:
    (work / "urls.txt").write_text("".join(f"{doc.url}\n" for doc in feeds), encoding="utf-8")
    # Adding feeds is setup, not timed.
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "-c", READER_ADD, str(work / "reader.sqlite"), str(work / "urls.txt")],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def command_reader(work: Path) -> list[str]:
    return [sys.executable, "-c", READER_UPDATE, str(work / "reader.sqlite"), str(WORKERS)]


def prepare_newsboat(work: Path, feeds: Sequence[FeedDoc], env: dict[str, str], log: Path) -> None:
    (work / "urls").write_text("".join(f"{doc.url}\n" for doc in feeds), encoding="utf-8")
    (work / "config").write_text(f"reload-threads {WORKERS}\n", encoding="utf-8")


def command_newsboat(work: Path) -> list[str]:
    newsboat = shutil.which("newsboat") or "newsboat"
    return [
        newsboat,
        "-x",
        "reload",
        "-u",
        str(work / "urls"),
        "-c",
        str(work / "cache.db"),
        "-C",
        str(work / "config"),
    ]


ALL_TOOLS = {
    "ours": Tool("ours", prepare_ours, command_ours, "bench.db", "SELECT count(*) FROM posts"),
    "reader": Tool("reader", prepare_reader, command_reader, "reader.sqlite", "SELECT count(*) FROM entries"),
    "newsboat": Tool(
        "newsboat", prepare_newsboat, command_newsboat, "cache.db", "SELECT count(*) FROM rss_item"
    ),
}


READER_SMOKE = """
from reader import make_reader
with make_reader(":memory:") as r:
    r.add_feed("http://127.0.0.1/feed.xml")  # loads reader's parser; fetches nothing
"""


def _pip_install(*requirements: str) -> bool:
    print(f"installing {' '.join(requirements)} with pip", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *requirements])
    importlib.invalidate_caches()
    return result.returncode == 0


def why_unavailable(name: str) -> str | None:
    """None if the tool can run here, else why not (installs reader and its sgmllib if missing)."""
    if name == "ours":
        command = _ours_command()
        if command[0] == sys.executable and importlib.util.find_spec("aggregator") is None:
            return "the aggregator package is not installed (pip install -e .)"
        return None
    if name == "reader":
        if importlib.util.find_spec("reader") is None and not _pip_install("reader>=3.12"):
            return "reader is not installed and `pip install reader` failed"
        # reader vendors a feedparser that imports `sgmllib`; feedparser >= 6.0.12 depends on
        # feedparser-sgmllib (a differently named module) instead of sgmllib3k, so it can be missing.
        if importlib.util.find_spec("sgmllib") is None and not _pip_install("sgmllib3k"):
            return "reader needs the sgmllib module and `pip install sgmllib3k` failed"
        smoke = subprocess.run([sys.executable, "-c", READER_SMOKE], capture_output=True, text=True)
        if smoke.returncode != 0:
            return "reader does not load: " + (smoke.stderr.strip().splitlines() or ["?"])[-1]
        return None
    if shutil.which("newsboat") is None:
        return "newsboat is not installed (apt-get install -y newsboat)"
    return None


def tool_env(work: Path) -> dict[str, str]:
    """The environment for a tool: its own HOME and XDG dirs, no proxies, no aggregator overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy") and key not in ("AGGREGATOR_CONFIG", "AGGREGATOR_DB")
    }
    env.update(
        HOME=str(work),
        XDG_CONFIG_HOME=str(work / ".config"),
        XDG_DATA_HOME=str(work / ".local" / "share"),
        XDG_CACHE_HOME=str(work / ".cache"),
        NO_PROXY="*",
        no_proxy="*",
    )
    env.setdefault("TERM", "dumb")
    return env


def count_rows(path: Path, sql: str) -> int | None:
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return None


@dataclass
class Row:
    tool: str
    run: str
    measurement: Measurement | None = None
    posts: int | None = None
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def get(self, tool: str, run: str) -> Row | None:
        for row in self.rows:
            if row.tool == tool and row.run == run and row.measurement is not None:
                return row
        return None


def _tail(log: Path, lines: int = 5) -> list[str]:
    return log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]


def run_tool(
    tool: Tool, feeds: Sequence[FeedDoc], server: FeedServer | SharedFeedServer, keep: bool, results: Results
) -> None:
    """Set the tool up in a fresh directory and run it twice (three times if run 2 got 200s)."""
    work = Path(tempfile.mkdtemp(prefix=f"update-bench-{tool.name}-"))
    try:
        env = tool_env(work)
        log = work / "output.log"
        try:
            tool.prepare(work, feeds, env, log)
        except (OSError, subprocess.CalledProcessError) as exc:
            status = exc.returncode if isinstance(exc, subprocess.CalledProcessError) else exc
            print(f"  {tool.name}: setup failed ({status}); last output:", *_tail(log), sep="\n    ")
            results.rows.append(Row(tool.name, "first", note=f"setup failed ({status})"))
            return
        runs = ["first", "second"]
        for run in runs:
            print(f"  {tool.name}: {run} run ...", end="", flush=True)
            measurement = measure(tool.command(work), work, env, log, server)
            posts = count_rows(work / tool.database, tool.count_sql)
            note = ""
            if measurement.returncode != 0:
                note = f"exit status {measurement.returncode}"
                print(f" exit status {measurement.returncode}; last output:", *_tail(log), sep="\n    ")
            else:
                print(f" {measurement.wall:.2f} s", flush=True)
            ok, not_modified, _other = measurement.responses
            if run == "second" and ok:
                # newsboat 2.21 stores a feed's ETag/Last-Modified only on its second fetch, so its
                # second run downloads everything again; a third run shows its all-304 path.
                note = note or f"{ok} feeds answered 200: not a conditional request"
                runs.append("third")
            elif run == "third":
                note = note or f"{not_modified} of {len(feeds)} answered 304"
            results.rows.append(Row(tool.name, run, measurement, posts, note))
    finally:
        if keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: Results, expected_posts: int) -> None:
    header = (
        f"{'tool':<9} {'run':<6} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'RSS MB':>8} {'posts':>7} "
        f"{'HTTP 200/304/other':>19} {'srv CPU':>8} {'oth CPU':>8}  note"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in results.rows:
        m = row.measurement
        responses = "/".join(str(n) for n in m.responses) if m else "-"
        wall, cpu, peak, rss = (m.wall, m.cpu, m.peak_pss / MB, m.peak_rss / MB) if m else (None,) * 4
        server_cpu, other_cpu = (m.server_cpu, m.other_cpu) if m else (None, None)
        note = row.note
        if m and m.orphans:
            note = (note + "; " if note else "") + f"reaped {m.orphans} orphaned process(es)"
        print(
            f"{row.tool:<9} {row.run:<6} {_fmt(wall, '8.2f')} {_fmt(cpu, '8.2f')} "
            f"{_fmt(peak, '8.1f')} {_fmt(rss, '8.1f')} {_fmt(row.posts, '7d')} {responses:>19} "
            f"{_fmt(server_cpu, '8.2f')} "
            f"{_fmt(other_cpu, '8.2f')}  {note}"
        )
    print(f"(posts expected: {expected_posts}; posts are the rows stored after the run)")
    print(
        "(peak MB: peak of the summed PSS of the tool's processes, each page counted once; "
        "RSS MB: peak of the summed RSS, which counts pages that forked processes share once per process)"
    )
    steal = sum(row.measurement.steal for row in results.rows if row.measurement)
    if steal > 0.5:
        print(f"warning: the hypervisor stole {steal:.1f} CPU s during the runs; the numbers are noisy")
    for row in results.rows:
        m = row.measurement
        if m and m.other_cpu > max(1.0, 0.1 * m.wall):
            print(
                f"warning: other processes used {m.other_cpu:.1f} CPU s during the {row.run} run "
                f"of {row.tool} ({m.wall:.1f} s); they competed for the CPUs, run again on a quiet machine"
            )


def _ratio(results: Results, other: str, run: str) -> float | None:
    ours, theirs = results.get("ours", run), results.get(other, run)
    if ours is None or theirs is None or ours.measurement is None or theirs.measurement is None:
        return None
    return ours.measurement.wall / theirs.measurement.wall


def print_targets(results: Results) -> None:
    print("\nWall-time ratios (ours / other; lower is better):")
    for other in ("reader", "newsboat"):
        first, second = _ratio(results, other, "first"), _ratio(results, other, "second")
        print(f"  ours/{other:<9} first run {_fmt(first, '6.3f')}   second run {_fmt(second, '6.3f')}")
        ours_second, third = results.get("ours", "second"), results.get(other, "third")
        if ours_second and ours_second.measurement and third and third.measurement:
            ratio = ours_second.measurement.wall / third.measurement.wall
            print(f"  ours/{other:<9} ours' second run / {other}'s third run: {ratio:.3f}")

    def wall(tool: str, run: str) -> float | None:
        # A run that failed (exit status not 0) measured nothing worth a target: a
        # configuration refused at once "passed" every time limit in a third of a second.
        row = results.get(tool, run)
        return row.measurement.wall if row and row.measurement and row.measurement.returncode == 0 else None

    ours_peaks = [
        r.measurement.peak_pss / MB
        for r in results.rows
        if r.tool == "ours" and r.measurement and r.measurement.returncode == 0
    ]
    checks: list[tuple[str, float | None, float | None, bool]] = [
        # (description, ours, limit, strictly less)
        ("first run wall <= 1/4 of reader's", wall("ours", "first"), _div(wall("reader", "first"), 4), False),
        (
            "first run wall <= 1/2 of newsboat's",
            wall("ours", "first"),
            _div(wall("newsboat", "first"), 2),
            False,
        ),
        (
            "second run wall <= 1/3 of reader's",
            wall("ours", "second"),
            _div(wall("reader", "second"), 3),
            False,
        ),
        ("second run wall < 3 s", wall("ours", "second"), 3.0, True),
        ("peak memory < 200 MB", max(ours_peaks) if ours_peaks else None, 200.0, True),
    ]
    print("\nTargets for ours:")
    for description, value, limit, strict in checks:
        unit = "MB" if "memory" in description else "s"
        if value is None or limit is None:
            print(f"  n/a   {description} (a tool was skipped or failed)")
            continue
        ok = value < limit if strict else value <= limit
        print(f"  {'PASS' if ok else 'MISS'}  {description}: {value:.2f} {unit} (limit {limit:.2f} {unit})")


def _div(value: float | None, by: float) -> float | None:
    return None if value is None else value / by


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    parser.add_argument(
        "--hosts", type=int, default=None, help="loopback addresses to spread them over (default feeds/4)"
    )
    parser.add_argument("--port", type=int, default=8089, help="server port on every address (default 8089)")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds before every response (default 0.1)"
    )
    parser.add_argument(
        "--only", default=",".join(TOOLS), help="comma-separated subset of: " + ",".join(TOOLS)
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic feeds (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directories")
    parser.add_argument(
        "--shared",
        action="store_true",
        help=f"serve the shared mixed corpus ({SHARED_SERVER}) on 127.0.0.1 instead of the synthetic feeds",
    )
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in TOOLS]
    if unknown or not args.only:
        parser.error(f"--only takes a comma-separated subset of {','.join(TOOLS)}, not {unknown}")
    if args.feeds < 1:
        parser.error("--feeds must be at least 1")
    if args.hosts is None:
        args.hosts = max(1, math.ceil(args.feeds / 4))
    if not 1 <= args.hosts <= 60000:
        parser.error("--hosts must be between 1 and 60000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    limit = raise_nofile_limit()
    _psutil()
    server: FeedServer | SharedFeedServer
    if args.shared:
        hosts = ["127.0.0.1"]
        try:
            server, feeds, expected = start_shared_server(
                SHARED_SERVER,
                args.feeds,
                args.port,
                args.latency,
                Path(tempfile.mkdtemp(prefix="shared-feeds-")),
            )
        except (OSError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"Serving the shared corpus: {len(feeds)} feeds, {expected} items, on 127.0.0.1:{args.port}")
    else:
        hosts = loopback_hosts(min(args.hosts, args.feeds))
        started = time.perf_counter()
        feeds = generate_feeds(args.feeds, hosts, args.port, args.seed)
        total_bytes = sum(len(doc.body) for doc in feeds)
        expected = sum(doc.items for doc in feeds)
        print(
            f"Generated {len(feeds)} feeds, {expected} items, {total_bytes / MB:.1f} MB "
            f"in {time.perf_counter() - started:.1f} s (seed {args.seed})"
        )
        try:
            server = start_server(feeds, hosts, args.port, args.latency)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(
        f"Serving on {len(hosts)} addresses {hosts[0]}..{hosts[-1]} port {args.port}, "
        f"latency {args.latency:g} s, open-file limit {limit}"
    )
    if not become_subreaper():
        print("note: could not become a child subreaper; CPU of orphaned grandchildren may be missed")
    results = Results()
    try:
        for name in args.only:
            reason = why_unavailable(name)
            if reason:
                print(f"SKIP {name}: {reason}")
                results.rows.append(Row(name, "first", note=f"skipped: {reason}"))
                continue
            print(f"{name}:", flush=True)
            run_tool(ALL_TOOLS[name], feeds, server, args.keep, results)
    except KeyboardInterrupt:
        print("\ninterrupted")
    finally:
        server.stop()
    print_table(results, expected)
    print_targets(results)
    print(
        f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"{args.feeds} feeds on {len(hosts)} hosts, latency {args.latency:g} s, "
        f"reader workers={WORKERS}, newsboat reload-threads {WORKERS}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
