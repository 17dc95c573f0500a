"""What a run's own process needs to know of the trained models, read from their cards.

The cards are small JSON files; the models themselves (NumPy arrays) are loaded by the
parser workers, which score the posts. The run's process only needs the screening
threshold it stores with each verdict and the topic names corrections may use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ModelError

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


def _card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: the trained model is missing; run `aggregator train`") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the model card ({exc}); run `aggregator train`") from exc
    if not isinstance(card, dict):
        raise ModelError(f"{path}: not a model card; run `aggregator train`")
    return card


def screen_threshold(model_dir: Path = MODEL_DIR) -> float:
    """The networking probability the screening model needs (with networking terms)."""
    path = model_dir / "screen.json"
    try:
        return float(_card(path)["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: incomplete card ({exc}); run `aggregator train`") from exc


def topic_names(model_dir: Path = MODEL_DIR) -> tuple[str, ...]:
    """The topics the topic model tags, in the taxonomy's order."""
    path = model_dir / "topics.json"
    try:
        return tuple(str(t) for t in _card(path)["topics"])
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{path}: incomplete card ({exc}); run `aggregator train`") from exc
