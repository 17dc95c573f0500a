"""The owner's decisions applied to what is stored, before anything is published.

overrides.yaml (posts allowed or denied), corrections.yaml (topics corrected) and the
topics the parser workers journaled (moved into post_topics). The end of every update
does this; so do `build` and `digest`, under the run lock, so that a run killed before
its end, or a file edited since the last run, never publishes what the owner denied.
"""

from __future__ import annotations

from pathlib import Path

from .overrides import Overrides, load_overrides
from .store import Store
from .topics.corrections import Corrections, load_corrections
from .types import Config


def overrides_path(config: Config) -> Path:
    return Path(config.path).parent / "overrides.yaml"


def corrections_path(config: Config) -> Path:
    return Path(config.path).parent / "corrections.yaml"


def load_decisions(config: Config, topics: tuple[str, ...]) -> tuple[Overrides, Corrections]:
    """The owner's files beside feeds.yaml (ConfigError naming a problem's line)."""
    return load_overrides(overrides_path(config)), load_corrections(corrections_path(config), topics)


def settle(store: Store, overrides: Overrides, corrections: Corrections) -> None:
    store.apply_overrides(overrides)
    store.index_topics()
    store.apply_corrections(corrections)


def settle_from_config(config: Config, store: Store) -> None:
    from . import cards

    settle(store, *load_decisions(config, cards.topic_names()))
