"""One line of plain text from what a server or a feed sent, for one-line fields, email
headers, and the messages the aggregator stores and prints: no control character (C0,
DEL, C1: a terminal acts on "\\x9b31m" as it does on ESC [ 31m) and no line break
survives. No dependency: the run's own process, which never imports nh3, uses it too."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(value: str) -> str:
    """Text that is already plain: control characters (CR, LF included) and runs of
    whitespace collapsed to one space. Safe for one-line fields and email headers."""
    text = " ".join(value.split())  # split() knows every Unicode space, and is fast
    # No character str.isprintable() refuses is left (control characters among them):
    # the usual case, told in C without a regex pass.
    if text.isprintable():
        return text
    return " ".join(_CONTROL.sub(" ", value).split())
