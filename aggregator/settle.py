"""The owner's decisions applied to what is stored, before anything is published.

overrides.yaml (posts allowed or denied), corrections.yaml (topics corrected) and the
topics the parser workers journaled (moved into post_topics). The end of every update
does this; so do `build` and `digest`, under the run lock, so that a run killed before
its end, or a file edited since the last run, never publishes what the owner denied.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from .overrides import Overrides, load_overrides
from .store import Store
from .topics.corrections import Corrections, load_corrections
from .types import Config


def overrides_path(config: Config) -> Path:
    # Beside feeds.yaml itself, a symlink to it resolved, as the database and the site are.
    return Path(config.path).resolve().parent / "overrides.yaml"


def corrections_path(config: Config) -> Path:
    return Path(config.path).resolve().parent / "corrections.yaml"


def load_decisions(config: Config, topics: tuple[str, ...]) -> tuple[Overrides, Corrections]:
    """The owner's files beside feeds.yaml (ConfigError naming a problem's line)."""
    return load_overrides(overrides_path(config)), load_corrections(corrections_path(config), topics)


def decisions_digest(config: Config) -> str:
    """What the owner's two files hold now, as one digest (a missing file is empty; one
    that cannot be read is a digest no run settled with, so the caller reads the files
    and load_decisions names the problem instead of the build skipping it)."""
    digest = hashlib.sha256()
    for path in (overrides_path(config), corrections_path(config)):
        try:
            digest.update(path.read_bytes())
        except FileNotFoundError:
            pass
        except OSError:
            return f"unreadable {path}"
        digest.update(b"\x00")
    return digest.hexdigest()


def settle(
    store: Store, overrides: Overrides, corrections: Corrections, now: datetime, digest: str | None = None
) -> None:
    """Apply the decisions (a post they publish is listed at now); digest
    (decisions_digest) records what they were."""
    store.apply_overrides(overrides, now)
    store.index_topics()
    store.apply_corrections(corrections)
    if digest is not None:
        store.mark_settled(digest)


def settle_from_config(config: Config, store: Store, now: datetime) -> None:
    """settle(), unless the latest run's posts were settled with these very files (a
    build after a finished update: the usual case costs one small query)."""
    from . import cards

    digest = decisions_digest(config)
    if store.settled() == digest:
        return
    settle(store, *load_decisions(config, cards.topic_names()), now, digest)
