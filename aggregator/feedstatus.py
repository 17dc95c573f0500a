"""What state a feed is in, and when a run fetches it next: one decision for every place
that shows it (`aggregator status`, its JSON, the health pages).

A feed is in one state, the first of these that holds:
- gone: the server answered 410 Gone; no run fetches it again unless `--force` asks;
- quarantined: fetched as usual, but its new posts are held until `aggregator release`;
- failing: its last fetches failed; it waits (backoff or Retry-After) before the next;
- new: configured but never fetched;
- ok: its last fetch worked; it waits while its server's Cache-Control or Expires, or its
  <ttl>, says it is fresh (fetch.max_fresh_wait), else the next run fetches it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

GONE_TEXT = "not fetched: gone (HTTP 410)"


class State(enum.StrEnum):
    OK = "ok"
    NEW = "new"
    FAILING = "failing"
    QUARANTINED = "quarantined"
    GONE = "gone"


@dataclass(frozen=True)
class FeedStatus:
    state: State
    # When a run fetches the feed again; None when the next run does, or, for a gone
    # feed, when no run does.
    next_fetch: datetime | None
    label: str  # the state in words, such as "failing: 2 error(s) in a row"

    @property
    def fetched(self) -> bool:
        """Whether a run without --force fetches the feed."""
        return self.state is not State.GONE


# No backoff (store.BACKOFF_MAX) or Retry-After (fetch.MAX_RETRY_AFTER) sets a next fetch
# further ahead than this. One further ahead was set while the clock was ahead of the
# present one: a clock put back must not hold a feed for as long as it was wrong.
LONGEST_WAIT = timedelta(days=7)


def waiting(next_fetch: datetime | None, now: datetime) -> bool:
    """Whether a feed's next fetch is still to come (False: the next run fetches it)."""
    return next_fetch is not None and now < next_fetch <= now + LONGEST_WAIT


def fresh_source(fresh_by: str | None) -> str:
    """What held a fetched feed back as fresh (the header or the <ttl>), in words."""
    return fresh_by or "its server"


def feed_status(row: Mapping[str, Any], now: datetime) -> FeedStatus:
    """The state of a feed from its stored row (table feeds)."""
    if row.get("gone"):
        return FeedStatus(State.GONE, None, GONE_TEXT)
    stored = row.get("next_fetch")
    when = datetime.fromisoformat(stored) if stored else None
    next_fetch = when if waiting(when, now) else None
    errors = int(row.get("consecutive_errors") or 0)
    if row.get("quarantined"):
        return FeedStatus(
            State.QUARANTINED, next_fetch, "quarantined: new posts held until `aggregator release`"
        )
    if errors:
        return FeedStatus(State.FAILING, next_fetch, f"failing: {errors} error(s) in a row")
    if not row.get("last_fetch"):
        return FeedStatus(State.NEW, None, "not fetched yet")
    if next_fetch is not None:
        return FeedStatus(
            State.OK, next_fetch, f"ok; fresh until then by {fresh_source(row.get('fresh_by'))}"
        )
    return FeedStatus(State.OK, next_fetch, "ok")
