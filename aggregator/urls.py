"""URL cleaning: absolute http(s) links with tracking parameters removed."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

SAFE_SCHEMES = frozenset({"http", "https"})
# Parameters that only identify the campaign or the click, never the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "ref_src",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")


def is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


# A link clean_link() would give back as it is (or with "/" for an empty path): http(s),
# a lower-case host name without user, a port that is not the default one, a path of
# ordinary characters, no query and no fragment. Most links in feeds look like this;
# they skip urllib.
_CLEAN_ALREADY = re.compile(
    r"(https?)://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::([1-9][0-9]{0,4}))?(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def clean_link(value: str | None, base: str | None = None) -> str | None:
    """Resolve against base, keep only http(s), drop tracking parameters and the fragment.

    Returns None for anything that must not become a link (javascript:, data:, ...).
    """
    if not value:
        return None
    value = value.strip()
    plain = _CLEAN_ALREADY.fullmatch(value)
    if plain:
        scheme, port, path = plain.groups()
        if port is None or (port != _DEFAULT_PORTS[scheme] and int(port) <= 65535):
            return value if path else value + "/"
    return _clean(value, base)


def _clean(value: str, base: str | None) -> str | None:
    try:
        absolute = value if not base or value.startswith(("https://", "http://")) else urljoin(base, value)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    # Filter the raw query, so the parameters that stay keep their exact spelling and order.
    query = "&".join(
        piece
        for piece in parts.query.split("&")
        if piece and not is_tracking(unquote_plus(piece.split("=", 1)[0]))
    )
    # Rebuilt from its parts: host lower-cased, user:password dropped, default port dropped.
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    netloc = host + (f":{port}" if port and port != default else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def resolve(value: str | None, base: str | None, schemes: frozenset[str] = SAFE_SCHEMES) -> str | None:
    """Resolve a URL from content against base; None unless its scheme is allowed."""
    if not value:
        return None
    try:
        absolute = urljoin(base, value.strip()) if base else value.strip()
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in schemes else None
