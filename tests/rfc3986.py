"""RFC 3986's grammar for an absolute http(s) URI, written from the spec's ABNF, to check
the links the aggregator publishes without trusting the code that made them."""

from __future__ import annotations

import re

_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_IP_LITERAL = r"\[[0-9A-Fa-f:.]+\]"
HTTP_URI = re.compile(
    rf"https?://(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"  # authority, no userinfo
    rf"(?:/{_PCHAR}*)*"  # path-abempty
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"  # query
    rf"(?:#(?:{_PCHAR}|[/?])*)?"  # fragment
)
# Legal in RFC 3986 or not, none of these may stand raw in a published link: each can end
# an HTML attribute or start markup once some serializer leaves it unescaped.
MARKUP = re.compile(r"""[<>"'\s\\`{}|^]""")


def is_safe_http_url(value: str) -> bool:
    return bool(HTTP_URI.fullmatch(value)) and not MARKUP.search(value)
