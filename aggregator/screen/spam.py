"""Spam signals, read in context.

Lottery tables, slot and casino promotions, SEO link pages and pill shops use a vocabulary
of their own. Some of it has innocent senses a networking post uses: RTP is the Real-time
Transport Protocol, a line card sits in a slot, a customer may be a casino resort, an
engineer is "betting on SRv6". So the signals are of three strengths:

- strong: words only spam uses (togel, gacor, sbobet, viagra) and spam phrases ("free
  spins", "slot gacor", "buy backlinks");
- weak: words with other senses (casino, slot, jackpot, betting, rtp, pragmatic...), link
  lists and keyword stuffing;
- decisive: a private address spelt with letters for digits ("192.168.l.l"), which only
  router-login SEO pages write, and a title built the way those pages title themselves
  ("192.168.0.1 Login", "Router Login Default Password").

A post is spam with a decisive signal, one strong signal, or two signals of any strength,
unless it is plainly about networking (several distinct networking terms) and its signals
are weak: a spam word inside a company name, or next to strong networking evidence, does
not drop a post on its own. See docs/screening.md.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .language import ENGLISH_WORDS

STRONG_SPAM = frozenset(
    """togel paito gacor judi sbobet maxwin keluaran prediksi bocoran jitu viagra cialis
    sportsbook sportsbooks slot88""".split()
)
WEAK_SPAM = frozenset(
    """slot slots casino casinos betting jackpot jackpots rtp pragmatic toto bandar situs
    bookmaker bookmakers payday lottery lotto angka""".split()
)
SPAM_PHRASES = (
    "free spins",
    "bonus code",
    "no deposit",
    "online slots",
    "online slot",
    "slot online",
    "slot gacor",
    "live draw",
    "result hk",
    "result sgp",
    "keluaran hk",
    "keluaran sgp",
    "data sgp",
    "data hk",
    "rtp slot",
    "rtp live",
    "lottery results",
    "lottery prediction",
    "winning numbers",
    "online casino",
    "casino bonus",
    "betting tips",
    "essay writing service",
    "write my essay",
    "buy followers",
    "buy instagram",
    "buy backlinks",
    "guest post service",
    "crypto giveaway",
    "airdrop",
    "double your",
    "100x",
    "pump signal",
    "weight loss pills",
    "online pharmacy",
    "without prescription",
    "cheap pills",
    "loan approval",
    "bad credit loan",
    "click here",
    "download crack",
    "free download crack",
    "keygen",
    "serial key",
    "license key",
    "activation key",
    "full version",
    "crack full",
    "customer support number",
    "support number",
    "helpline number",
    "help desk",
    "customer service",
    "toll free",
    "near me",
    "homework help",
    "assignment help",
    "do my",
    "verify now",
    "account will be suspended",
    "account suspended",
    "join telegram",
    "telegram vip",
    "vip signal",
    "vip signals",
)
_PHRASE_WORDS = tuple((p, frozenset(p.split())) for p in sorted(set(SPAM_PHRASES)))
_SPAM_FIRST = frozenset(p.split()[0] for p in SPAM_PHRASES)
# Any dotted quad has its two middle parts between dots: a pattern that begins with a dot
# is searched for that character first, in C (0.25 µs a post; one that begins with a class
# of characters tries every position, 6 µs), and one post in a hundred holds such a run.
_MAYBE_QUAD = re.compile(r"\.[0-9lIoO]{1,3}\.[0-9lIoO]{1,3}\.")
_TOLL_FREE = re.compile(r"\b1?[-. (]*8(00|33|44|55|66|77|88)[-. )]+\d{3}[-. ]\d{4}\b")

# A private address written with letters for digits ("192.168.l.l", "10.0.0.l",
# "192.168.o.1"): the misspellings router-login SEO pages are written to rank for. No
# engineer types them, so one decides alone, beside any number of networking terms.
_ADDRESS_LIKE = re.compile(r"(?<![\w.])[0-9lIoO]{1,3}(?:\.[0-9lIoO]{1,3}){3}(?![\w]|\.\w)")
_DIGITS_OF = str.maketrans("lIoO", "1100")


def _misspelt_addresses(text: str) -> list[str]:
    """The private IPv4 addresses in text that are spelt with letters for some digits."""
    found = []
    for candidate in _ADDRESS_LIKE.findall(text):
        if candidate.replace(".", "").isdigit():
            continue  # an address as written: no signal
        octets = [int(o) for o in candidate.translate(_DIGITS_OF).split(".")]
        if max(octets) > 255:
            continue
        a, b = octets[0], octets[1]
        if a == 10 or (a == 192 and b == 168) or (a == 172 and 16 <= b <= 31):
            found.append(candidate)
    return found


# Router-login SEO titles: the private address as the page's keyword ("192.168.0.1 Login",
# "192.168 Username Password", the address alone), or "router login" beside the
# credentials ("Router Login Default Password"). An engineer's title puts the address in a
# sentence ("Log in to 192.168.1.1, then change the admin password"), which none of these
# match. (Of the team's 13,000 rows, one has such a title: a spam row.)
_PRIVATE = (
    r"(?:192\.168(?:\.\d{1,3}){0,2}|10(?:\.\d{1,3}){3}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2})"
    r"(?!\.?\d)"  # the whole address, not the start of a longer number
)
_CREDENTIAL = r"(?:log ?in|login page|password|passwords|username|admin)"
_SEO_ADDRESS = re.compile(
    rf"^\W*{_PRIVATE}(?:\W*$|\W+{_CREDENTIAL}\b)"  # the address first: alone, or its login words next
    rf"|\b{_PRIVATE}\W+{_CREDENTIAL}\b"  # "Change Router Password 192.168.0.1 Login"
    rf"|\b(?:admin|log ?in)\W+{_PRIVATE}(?!\w)"  # "Login 192.168.1.1"
)
_ROUTER_LOGIN = re.compile(r"\b(?:router|admin) log ?in\b")
_CREDENTIALS = re.compile(r"\b(?:default|password|username)\b")


def _seo_title(title: str) -> str | None:
    """The router-login SEO pattern a title matches, or None (most titles hold no "192.",
    "10.", "172." or "login": a substring test in C tells). Each search is linear in the
    title's length, however hostile the title."""
    lower = title.lower()
    if not any(key in lower for key in ("192.", "10.", "172.", "log")):
        return None
    found = _SEO_ADDRESS.search(lower)
    if found is not None:
        return found.group(0).strip(" -:|")
    login = _ROUTER_LOGIN.search(lower)
    credential = _CREDENTIALS.search(lower) if login is not None else None
    if login is None or credential is None:
        return None
    first, second = sorted((login, credential), key=lambda m: m.start())
    return f"{first.group(0)} ... {second.group(0)}"


# Distinct networking terms (lexicon hits) that make a post plainly about networking:
# then weak spam signals alone do not drop it.
PLAINLY_NETWORKING = 2


def spam_signals(words: list[str], text: str, title: str = "") -> list[str]:
    """The spam signals in a post's tokens (screen.tokens(text)) and title, as short
    labels: "term:togel" (strong), "weak:casino", "phrase:free spins", "repetition:vpnx9",
    "links:many", "seo:192.168.l.l" and "seo-title:192.168.0.1 login" (decisive)."""
    present = set(words)
    # Set operations first: most posts have none of the terms, and those run in C.
    signals = [f"term:{w}" for w in sorted(STRONG_SPAM.intersection(present))]
    signals += [f"weak:{w}" for w in sorted(WEAK_SPAM.intersection(present))]
    if not _SPAM_FIRST.isdisjoint(present):
        joined = f" {' '.join(words)} "
        signals += sorted(
            f"phrase:{phrase}"
            for phrase, phrase_words in _PHRASE_WORDS
            if phrase_words <= present and f" {phrase} " in joined
        )
    # Link farms repeat their keyword: one content word making a quarter of a long text.
    if len(words) >= 12 and len(words) - len(present) >= 4:
        content = [w for w in words if len(w) > 3 and w not in ENGLISH_WORDS]
        repeats = len(content) - len(set(content))
        # No word occurs more than repeats + 1 times: when even that is under a quarter of
        # the content words, none can qualify, and the counting (about half of this
        # function's time on long posts) is skipped.
        if len(content) >= 12 and repeats >= 4 and (repeats + 1) / len(content) >= 0.25:
            word, count = Counter(content).most_common(1)[0]
            if count >= 5 and count / len(content) >= 0.25:
                signals.append(f"repetition:{word}x{count}")
    if text.lower().count("http") >= 6:
        signals.append("links:many")
    # Fake support lines: a toll-free number in the title or lead.
    if "-8" in text and _TOLL_FREE.search(text):
        signals.append("phone:toll-free")
    if _MAYBE_QUAD.search(text):
        signals += [f"seo:{a}" for a in dict.fromkeys(_misspelt_addresses(text))]
    seo_title = _seo_title(title) if title else None
    if seo_title:
        signals.append(f"seo-title:{seo_title}")
    return signals


@dataclass(frozen=True)
class SpamCall:
    spam: bool
    why: str  # what decided, for explain


# The decisive signals, by their labels' prefix, and what `explain` says of each.
_DECISIVE = (
    ("seo:", "a private address spelt with letters ({}): router-login SEO"),
    ("seo-title:", 'a router-login SEO title ("{}")'),
)


def judge_spam(signals: list[str] | tuple[str, ...], networking_terms: int) -> SpamCall:
    """Whether the signals make a post spam, given how many distinct networking terms it
    names."""
    if not signals:
        return SpamCall(False, "no spam signals")
    for prefix, why in _DECISIVE:
        found = next((s for s in signals if s.startswith(prefix)), None)
        if found is not None:
            return SpamCall(True, why.format(found.removeprefix(prefix)))
    strong = [s for s in signals if s.startswith(("term:", "phrase:", "phone:"))]
    if networking_terms >= PLAINLY_NETWORKING and not strong:
        return SpamCall(False, f"only weak spam signals, beside {networking_terms} networking terms")
    if strong and (len(signals) >= 2 or networking_terms < PLAINLY_NETWORKING):
        return SpamCall(True, f"{len(strong)} strong spam signal(s)")
    if len(signals) >= 2:
        return SpamCall(True, f"{len(signals)} spam signals")
    if strong:
        return SpamCall(False, f"one strong spam signal beside {networking_terms} networking terms")
    return SpamCall(False, "one weak spam signal, not enough alone")
