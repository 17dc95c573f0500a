"""URL normalization: absolute http(s) links, percent-encoded per RFC 3986, without
tracking parameters. Every link the aggregator stores or publishes goes through here."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

import idna

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


# The characters RFC 3986 lets a path, query or fragment carry as they are (pchar, "/" and
# "?"), less the apostrophe. The apostrophe is a sub-delim with no meaning in an http
# URL, and servers read %27 as the same character; but it closes a single-quoted HTML
# attribute, and HTML serializers (css-inline's among them) leave it, "<" and ">" raw
# inside attributes. Encoded, a stored link cannot carry markup whatever re-serializes it.
_PATH_SAFE = "/:@!$&()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ASCII_HOST = re.compile(r"[a-z0-9._-]+")

# A link clean_link() would give back as it is (or with "/" for an empty path): http(s),
# a lower-case host name without user, a port that is not the default one, a path of
# the characters above and upper-case %XX escapes, no query and no fragment. Most links
# in feeds look like this; they skip urllib.
_CLEAN_ALREADY = re.compile(
    r"(https?)://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:%[0-9A-F]{2}[A-Za-z0-9\-._~!$&()*+,;=:@/]*)*)?"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def clean_link(value: str | None, base: str | None = None) -> str | None:
    """The link normalized: resolved against base, http(s) only, the host in lower case
    (punycode for a non-ASCII name), tracking parameters and the fragment dropped, and
    every character RFC 3986 does not allow (and the apostrophe) percent-encoded.

    Returns None for anything that must not become a link (javascript:, data:, ...).
    A link already in this form comes back unchanged, so cleaning twice changes nothing.
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


def without_credentials(url: str) -> str:
    """url with no user name or password in it, everything else as written: what may be
    published of a feed's address (a feed behind HTTP basic auth is configured as
    https://user:password@host/feed)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


# The user information as a URL parser reads it: up to the last @ before the path, the
# query or the fragment (a password may hold @; an @ in a query, "?list=ops@example.net",
# is no user's). A password written with a raw # or ? makes no valid URL: config.py
# quotes such a URL without anything before its last @.
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")


def without_userinfo(text: str | None) -> str | None:
    """text (a fetch's error message, which may quote the URLs it went to) with the user
    name and password taken out of every URL in it."""
    return _USERINFO.sub("", text) if text else text


def resolve(value: str | None, base: str | None) -> str | None:
    """A URL from content (an enclosure, an image, chapters) resolved against base and
    normalized as clean_link does, keeping its whole query and its fragment; None unless
    it is http(s)."""
    if not value:
        return None
    return _clean(value.strip(), base, drop_tracking=False)


def _clean(value: str, base: str | None, drop_tracking: bool = True) -> str | None:
    """The full path of clean_link (drop_tracking=True) and resolve (drop_tracking=False)."""
    try:
        absolute = value if not base or value.startswith(("https://", "http://")) else urljoin(base, value)
        parts = urlsplit(absolute)
        port = parts.port  # ValueError for a port out of range or not a number
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = host_name(parts.hostname)
    # A browser reads "\\" as "/" and takes the host from before it; urllib takes it from
    # after a later "@". Neither guess is made: such a link is refused.
    if scheme not in SAFE_SCHEMES or host is None or "\\" in parts.netloc:
        return None
    query = parts.query
    if drop_tracking:
        # Filter the raw query, so the parameters that stay keep their exact spelling and order.
        query = "&".join(
            piece
            for piece in query.split("&")
            if piece and not is_tracking(unquote_plus(piece.split("=", 1)[0]))
        )
    # Rebuilt from its parts: user:password dropped, default port dropped.
    netloc = host + (f":{port}" if port and port != {"http": 80, "https": 443}[scheme] else "")
    try:
        path = _encode(parts.path, _PATH_SAFE) or "/"
        query = _encode(query, _QUERY_SAFE)
        fragment = "" if drop_tracking else _encode(parts.fragment, _QUERY_SAFE)
    except UnicodeEncodeError:  # a lone surrogate: no such URL
        return None
    return urlunsplit((scheme, netloc, path, query, fragment))


def _encode(part: str, safe: str) -> str:
    """part percent-encoded as RFC 3986 wants: its %XX escapes kept (in upper case, not
    encoded again), a "%" that starts none encoded, non-ASCII as UTF-8."""
    part = _STRAY_PERCENT.sub("%25", part)
    return _ESCAPE.sub(lambda m: m.group().upper(), quote(part, safe=safe + "%"))


def host_name(name: str | None) -> str | None:
    """The host name in the form a URL carries (lower case, IDNA for a non-ASCII name,
    an IPv6 address in brackets), or None when it cannot be one."""
    if not name:
        return None
    if ":" in name:
        if "%" in name:  # a zone id means a link to this machine's own interfaces
            return None
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
        return f"[{name}]"
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    # Only what a DNS name is made of: no quote, bracket, backslash or space in a host.
    return name if _ASCII_HOST.fullmatch(name) else None


def idna_problem(name: str) -> str | None:
    """Why the fetcher (httpx) could not encode a host name, as it encodes one (IDNA 2008,
    no mapping of look-alike forms such as full-width letters), or None."""
    if name.isascii():
        return None
    try:
        idna.encode(name.lower())
    except idna.IDNAError:
        return f"Invalid IDNA hostname: {name!r}"
    return None


def _site_host(url: str | None) -> str | None:
    """A URL's host name, lower case, without a leading "www."."""
    if not url:
        return None
    try:
        host = host_name(urlsplit(url).hostname)  # a non-ASCII name as links store it
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def on_own_site(link: str | None, feed_url: str) -> bool:
    """Whether a post's link is on the site its feed is served from (the configured feed
    URL's host, "www." aside, or a subdomain of it): the copy a blog publishes of its own
    post, not one another feed carries. The feed's own document is not asked (a hijacked
    feed would name the member's site as its own), nor is a host below the feed's (a feed
    at one user's subdomain of a shared host is not the shared host's posts)."""
    host, home = _site_host(link), _site_host(feed_url)
    if host is None or home is None or "." not in home:
        return False
    return host == home or host.endswith(f".{home}")


def feed_key(url: str) -> str:
    """A feed URL as duplicates are compared: scheme and host in lower case, the default
    port dropped, the path and query percent-encoded and the path without a trailing
    slash (https://Host:443/a b/feed/ is https://host/a%20b/feed), so one feed listed
    twice is not fetched and stored twice."""
    try:
        parts = urlsplit(url.strip())
        port_number = parts.port
    except ValueError:  # no URL (a port out of range, a bracket left open): as written
        return url.strip()
    scheme = parts.scheme.lower()
    host = host_name(parts.hostname) or (parts.hostname or "").lower()  # punycode for IDN
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{port_number}" if port_number and port_number != default else ""
    # Percent-encoded as the fetcher sends it: "/a b/feed" is "/a%20b/feed".
    try:
        path, query = _encode(parts.path, _PATH_SAFE), _encode(parts.query, _QUERY_SAFE)
    except UnicodeEncodeError:  # a lone surrogate: compared as written
        path, query = parts.path, parts.query
    return f"{scheme}://{host}{port}{path.rstrip('/') or '/'}" + (f"?{query}" if query else "")
