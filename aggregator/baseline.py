"""Per-feed baselines: a feed learns its usual language and keep rate from its history.

A post that departs from an established baseline counts as a departure; several in a
row put the feed into quarantine, where new posts are held until the owner runs
`aggregator release`. Pure logic: the store keeps the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MIN_HISTORY = 10  # screened posts before a feed's baseline counts
MIN_KEEP_RATE = 0.8  # a feed whose posts are mostly kept has a baseline worth defending
QUARANTINE_AFTER = 3  # departures in a row
# A flood: one fetch of an established feed brings more than FLOOD_POSTS new posts dated
# within FLOOD_WINDOW_DAYS (or undated, so dated now), and more than the feed published
# in the FLOOD_USUAL_DAYS before. A hijacked blog dumps hundreds of pages at once, and
# what screening lets through of them would take the top of every page; a blog's own
# pace, even a busy one's, or its archive re-published under new addresses (dated when
# they were written), does not reach that.
FLOOD_POSTS = 50
FLOOD_WINDOW_DAYS = 7
FLOOD_USUAL_DAYS = 30


def is_flood(baseline: Baseline, recent_new: int, usual: int) -> bool:
    """Whether a fetch's new recent posts are a flood (see FLOOD_POSTS): only for a feed
    with an established baseline, as a new feed's first fetch is all new."""
    return baseline.established and not baseline.quarantined and recent_new > max(FLOOD_POSTS, usual)


@dataclass(frozen=True)
class Baseline:
    screened: int = 0
    kept: int = 0
    usual_lang: str | None = None
    departures: int = 0  # in a row
    quarantined: bool = False

    @property
    def established(self) -> bool:
        return self.screened >= MIN_HISTORY and self.kept >= MIN_KEEP_RATE * self.screened

    @property
    def keep_rate(self) -> float:
        return self.kept / self.screened if self.screened else 0.0

    @property
    def record(self) -> FeedRecord:
        """What screening weighs of the feed's history (Screener.feed_record)."""
        return FeedRecord(self.screened, self.kept)


class Screened(Protocol):
    """What judging needs of a verdict (screen.Verdict and screen.StoredVerdict have it)."""

    @property
    def keep(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def lang(self) -> str: ...
    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class FeedRecord:
    """What a feed's other posts say about it: how many were screened, how many kept."""

    screened: int = 0
    kept: int = 0

    def without(self, verdict: Screened) -> FeedRecord:
        return FeedRecord(self.screened - 1, self.kept - int(verdict.keep))

    @property
    def networking_share(self) -> float:
        """Share of networking posts, smoothed (one kept and one not, added)."""
        return (self.kept + 1) / (self.screened + 2)


@dataclass(frozen=True)
class Judgement:
    status: str  # "kept", "dropped" or "held"
    reason: str | None
    note: str | None
    baseline: Baseline
    quarantined_now: bool = False


def judge(baseline: Baseline, verdict: Screened, threshold: float) -> Judgement:
    """Apply the feed's baseline to one post's verdict, oldest post first."""
    status, reason, note = ("kept", None, None) if verdict.keep else ("dropped", verdict.reason, None)
    if verdict.keep and baseline.established:
        if baseline.usual_lang and verdict.lang != baseline.usual_lang:
            status, reason = "dropped", "feed_drift"
            note = f"language {verdict.lang}, while this feed writes in {baseline.usual_lang}"
        elif baseline.departures and verdict.score < (1 + threshold) / 2:
            # Right after a departure, a post that only just passes is not given the benefit.
            status, reason = "dropped", "feed_drift"
            note = (
                f"networking score {verdict.score:.2f} is weak, and the previous post of this "
                "feed was dropped"
            )
    departure = status != "kept" and baseline.established
    departures = baseline.departures + 1 if departure else 0
    quarantined_now = not baseline.quarantined and baseline.established and departures >= QUARANTINE_AFTER
    quarantined = baseline.quarantined or quarantined_now
    if quarantined and status == "kept":
        status, reason = "held", "feed_drift"
        note = "the feed is in quarantine; `aggregator release` publishes held posts"
    updated = Baseline(
        screened=baseline.screened + 1,
        kept=baseline.kept + (1 if status == "kept" else 0),
        usual_lang=baseline.usual_lang or (verdict.lang if status == "kept" else None),
        departures=departures,
        quarantined=quarantined,
    )
    return Judgement(status, reason, note, updated, quarantined_now)
