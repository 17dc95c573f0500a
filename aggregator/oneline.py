"""One line of plain text from what a server or a feed sent, for the messages the
aggregator stores and prints: no control character (C0, DEL, C1: a terminal acts on
"\\x9b31m" as it does on ESC [ 31m) and no line break survives."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """text with every control character and line break as a space, runs of spaces as one."""
    if text.isprintable():
        return text
    return " ".join(_CONTROL.sub(" ", text).split())
