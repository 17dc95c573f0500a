"""The health pages: how every feed is doing, and which ones need the owner.

A feed needs attention when it is failing, gone, in quarantine, moved (a permanent
redirect to adopt in feeds.yaml), or when most of what it published lately was dropped.
Only the feeds feeds.yaml lists now are shown; a feed removed from it is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..feedstatus import GONE_TEXT, FeedStatus, State, feed_status
from ..overrides import override_words
from ..store import Store
from ..urls import without_credentials, without_userinfo
from .model import SiteData

DROP_REASONS = ("non_english", "spam", "offtopic", "feed_drift")


@dataclass(frozen=True)
class FeedHealth:
    name: str
    url: str
    slug: str
    kind: str
    last_status: int | None
    last_fetch: str | None
    last_success: str | None
    consecutive_errors: int
    next_fetch: str | None
    last_error: str | None
    last_warning: str | None
    redirect_url: str | None
    gone: bool
    quarantined: str | None
    quarantine_reason: str | None
    usual_lang: str | None
    kept: int  # published, those allowed by an override included
    held: int
    dropped: dict[str, int]  # reason -> posts dropped by screening
    dropped_languages: dict[str, int]  # language -> posts not kept
    recent: tuple[dict[str, Any], ...]  # the latest posts not kept
    status: FeedStatus
    allowed: int = 0  # kept because an override allowed them
    denied: int = 0  # dropped because an override denied them

    @property
    def next_fetch_text(self) -> str:
        if self.status.state is State.GONE:
            return GONE_TEXT
        if self.status.next_fetch is None:
            return "next run"
        return f"{self.status.next_fetch:%Y-%m-%d %H:%M} UTC"

    @property
    def problems(self) -> list[str]:
        found = []
        if self.gone:
            found.append(
                f"{GONE_TEXT}: remove it from feeds.yaml, or `aggregator update --force` fetches it again"
            )
        if self.quarantined:
            found.append(
                f"in quarantine since {self.quarantined[:16]}: new posts held until `aggregator release`"
            )
        if self.consecutive_errors and not self.gone:  # a gone feed is not failing: it is not fetched
            found.append(f"failing: {self.consecutive_errors} error(s) in a row")
        if self.redirect_url:
            found.append(f"moved permanently: use {self.redirect_url}")
        dropped = sum(self.dropped.values()) + self.denied
        total = self.kept + self.held + dropped
        if total >= 10 and dropped > total / 2:
            found.append("most of its posts were dropped")
        if self.last_warning:
            found.append("warning: " + self.last_warning)
        return found


def feed_health(store: Store, data: SiteData) -> tuple[list[FeedHealth], str | None]:
    rows, counts, last_run = store.health()
    slugs = {s.url: s.slug for s in data.current_sources}
    out = []
    for row in rows:
        if row["url"] not in slugs:
            continue  # no longer in feeds.yaml
        mine = counts.get(row["url"], {})
        out.append(
            FeedHealth(
                name=row["name"],
                # Published: the address without the credentials it is fetched with.
                url=without_credentials(row["url"]),
                slug=slugs.get(row["url"], "source"),
                kind=row["kind"],
                last_status=row["last_status"],
                last_fetch=row["last_fetch"],
                last_success=row["last_success"],
                consecutive_errors=row["consecutive_errors"],
                next_fetch=row["next_fetch"],
                last_error=without_userinfo(row["last_error"]),
                last_warning=without_userinfo(row["last_warning"]),
                redirect_url=row["redirect_url"] and without_credentials(row["redirect_url"]),
                gone=bool(row["gone"]),
                quarantined=row["quarantined"],
                quarantine_reason=row["quarantine_reason"],
                usual_lang=row["base_lang"],
                kept=mine.get("kept", 0) + mine.get("override:allow", 0),
                held=mine.get("held", 0),
                allowed=mine.get("override:allow", 0),
                denied=mine.get("override:deny", 0),
                status=feed_status(row, data.built),
                dropped={r: mine[f"dropped:{r}"] for r in DROP_REASONS if mine.get(f"dropped:{r}")},
                dropped_languages={
                    k.removeprefix("lang:"): v for k, v in sorted(mine.items()) if k.startswith("lang:")
                },
                # Asked only of feeds with posts not kept: most have none.
                recent=tuple(_described(p) for p in store.recent_dropped(row["url"]))
                if set(mine) - {"kept", "override:allow"}
                else (),
            )
        )
    out.sort(key=lambda f: (not f.problems, f.name.lower()))
    return out, last_run


def _described(post: dict[str, Any]) -> dict[str, Any]:
    """A post not kept, with "why": what decided it, in words."""
    return {**post, "why": override_words(post["override"]) or post["reason"]}
