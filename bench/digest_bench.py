"""Time `aggregator digest` for many subscribers of one period, written as .eml files.

Stores N distinct networking posts in one day (through the real parse, screen and store
path), then makes the daily digest of S subscribers with `send_digests(dry_run_to=...)`
and prints the wall time and the time per subscriber.

    python bench/digest_bench.py [--posts 2000] [--subscribers 50]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from feedgen import Item, rss
from sitekit import NOW, SITE, store_feed

from aggregator.publish.digest import send_digests
from aggregator.publish.site import environment
from aggregator.screen.verdict import Screener
from aggregator.store import Store
from aggregator.topics.taxonomy import load_taxonomy
from aggregator.types import DigestConfig, FeedConfig, Frequency, SmtpSettings, Subscriber

WORDS = (
    "bgp ospf isis evpn vxlan mpls ldp rsvp multicast pim igmp prefix route reflector session "
    "timer area lsa spf label tunnel fabric leaf spine vlan trunk mtu peering"
).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    screener, store = Screener.load(("en",)), Store(work / "bench.db")
    pick = random.Random(1)
    feeds = 2
    for f in range(feeds):
        url = f"https://f{f}.example.net/feed.xml"
        store.sync_feeds([FeedConfig(url, f"Feed {f}")], NOW)
        items = [
            Item(
                f"Note {f}-{i}",
                guid=f"{f}-{i}",
                body=f"<p>Design note {i}: {' '.join(pick.choices(WORDS, k=30))}.</p>",
            )
            for i in range(args.posts // feeds)
        ]
        store_feed(store, screener, url, rss(*items), NOW, store.start_run(NOW, 1))
    store.index_topics()
    people = tuple(
        Subscriber(f"u{i}@example.org", "", (), Frequency.DAILY, hour=7) for i in range(args.subscribers)
    )
    config = DigestConfig("planet@example.net", people, SmtpSettings(host="127.0.0.1", port=1), None)
    started = time.perf_counter()
    report = send_digests(
        store, config, SITE, load_taxonomy(), environment(None), NOW.replace(hour=8), work / "eml"
    )
    wall = time.perf_counter() - started
    print(
        f"{len(report.written)} digests of {store.count_posts()} posts in {wall:.2f} s "
        f"({1000 * wall / max(1, len(report.written)):.0f} ms a subscriber)"
    )


if __name__ == "__main__":
    main()
