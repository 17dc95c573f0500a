"""The language of a post: script first, then function words, then statistics.

Evidence is taken in order of how little it can be fooled:

1. script: text whose letters are mostly Hangul, kana, Han, Thai, Cyrillic, Arabic... is not
   English, whatever langdetect says. English product names inside it (Kubernetes, Cilium,
   eBPF) do not count for English: only English prose words do;
2. function words: "the", "and", "of" make English; "yang", "dan", "untuk" Indonesian;
   "der", "und", "nicht" German. A dozen such words are clear evidence, and the feed's
   declared language never overrides them;
3. the English vocabulary of the team's corpus (terse technical English);
4. langdetect (seeded), which costs about 2 ms a post; when it is unsure, the feed's
   language decides, and the note says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from ..features.tokens import WORD

# Function words: frequent in any English prose, rare in other languages' (and never
# technical terms), so their share tells English apart quickly and without guessing.
ENGLISH_WORDS = frozenset(
    """a about after all also an and are as at be because been but by can could did do does
    for from had has have how if in into is it its just more most my new no not of on one
    only or our out over should so some than that the their them then there these they this
    to up us was we were what when where which while who why will with would you your""".split()
)

# The most frequent words of other languages written in Latin letters, less any that
# English prose also uses ("die", "in", "a", "on", "me", "be", "do", "to"...): a text
# that uses several of them, and more of them than English ones, is in that language.
OTHER_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "id": """yang dan di ini itu untuk dengan tidak dari dalam akan ke pada juga ada
            kami kita saya anda mereka atau karena sudah bisa lebih oleh tersebut sebagai
            dapat hari cara bagaimana apa jika agar serta namun masih hanya harus sangat
            telah bagi antara menjadi baru setelah seperti para lagi""",
        "ms": """yang dan di ini itu untuk dengan tidak dari dalam akan kepada juga ada kami
            kita saya anda mereka atau kerana sudah boleh lebih oleh tersebut sebagai dapat""",
        "de": """der das und ist nicht mit dem des ein eine einer einem einen auf sich auch
            wie bei oder wird werden sind wir ich sie es zu zum zur von aus nach noch nur
            über unter kann können mehr wenn dass diese dieser wurde sehr schon heute alle
            jetzt""",
        "nl": """het een en niet voor zijn ook maar bij uit wordt worden naar heeft hebben
            deze wat nog wel als geen meer moet kunnen onze ons zoals waar veel""",
        "es": """de el la los las que es por para con una uno como pero más este esta
            estos esto cuando muy sobre también entre porque puede nuestro nuestra desde
            donde todos""",
        "pt": """de da das não por para mais como mas foi ao pelo pela seu sua isso este
            esta também quando muito está são nosso nossa pode entre sobre uma""",
        "fr": """le la les des de est une que qui dans sur avec ce cette ces sa ses nous
            vous ils elle sont mais ou aussi comme leur très été être peut entre""",
        "it": """il la gli le dei degli delle della di che con una uno sono anche più questo
            questa nel nella alla sul sulla suo sua loro essere stato può tra ancora molto""",
        "tr": """ve bir bu da ile için ne gibi daha çok olarak olan değil sonra kadar
            şey biz siz onlar nasıl neden""",
        "pl": """na nie się jest że jak od za dla przez tak czy jego jej są być był była
            oraz jako tylko może który która które""",
        "vi": """của và là các cho với trong được này không có một những người đã khi
            để từ như cũng thì sẽ bạn chúng tôi về hơn""",
        "sv": """och att det som är på för av har inte om ett jag eller kan från också när""",
        "ro": """și în la cu de pe că nu este sunt pentru mai sau fost acest această prin
            către""",
    }.items()
}
_LATIN_LANGS = tuple(OTHER_FUNCTION_WORDS)

MIN_WORDS = 8  # fewer ordinary words than this: too short for a language to be told
MIN_CONFIDENCE = 0.90
ENGLISH_SHARE = 0.12  # share of English function words above which text is English
ENGLISH_VOCABULARY_SHARE = 0.7  # share of words from the English corpus vocabulary
# Another language's function words: this many, and more than English ones, are clear
# evidence of it (two beside English ones are often loan words or names: "de" in "de
# facto"; two with no English function word at all are enough in a short text, where
# they are a fifth of the words, not in a list of terms: "le 28" in a prefix-list).
MIN_OTHER_FUNCTION_WORDS = 3


# -- scripts ----------------------------------------------------------------------------

# One pattern per script (Unicode blocks), with the language it most likely writes and
# the weight of one of its characters against one Latin letter of English prose: a Han
# character or a Hangul syllable carries what three or four Latin letters do.
_SCRIPTS: tuple[tuple[str, str, re.Pattern[str], float], ...] = tuple(
    (name, lang, re.compile(f"[{chars}]"), weight)
    for name, lang, chars, weight in (
        ("Hangul", "ko", "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f", 3.0),
        ("kana", "ja", "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f", 2.0),
        ("Han", "zh", "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff", 3.0),
        ("Thai", "th", "\u0e00-\u0e7f", 1.5),
        ("Cyrillic", "ru", "\u0400-\u04ff", 1.0),
        ("Greek", "el", "\u0370-\u03ff", 1.0),
        ("Arabic", "ar", "\u0600-\u06ff\u0750-\u077f", 1.0),
        ("Hebrew", "he", "\u0590-\u05ff", 1.0),
        ("Devanagari", "hi", "\u0900-\u097f", 1.0),
        ("Bengali", "bn", "\u0980-\u09ff", 1.0),
        ("Tamil", "ta", "\u0b80-\u0bff", 1.0),
        ("Georgian", "ka", "\u10a0-\u10ff", 1.0),
        ("Armenian", "hy", "\u0530-\u058f", 1.0),
        ("Lao", "lo", "\u0e80-\u0eff", 1.5),
        ("Khmer", "km", "\u1780-\u17ff", 1.5),
        ("Myanmar", "my", "\u1000-\u109f", 1.5),
    )
)
_LATIN_WORDS = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff][\w.-]*")
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# Vietnamese writes Latin letters with stacked marks no other language uses.
_VIETNAMESE = re.compile(r"[ơưđăƠƯĐĂ\u1ea0-\u1ef9]")
_KANA = _SCRIPTS[1][2]
# The languages one script writes, by the language _SCRIPTS names for it.
_SCRIPT_LANGUAGES = {
    "ru": frozenset("ru uk bg mk sr be kk ky mn".split()),
    "ar": frozenset("ar fa ur ps".split()),
    "hi": frozenset("hi mr ne".split()),
}
MIN_SCRIPT_LETTERS = 3  # fewer letters of another script than this: a quoted name at most

# Phrases English writes in another language's words: in a short English title they are
# English, not evidence of French, Italian or Latin.
_LOAN_PHRASES = re.compile(
    r"(?<!\w)(?:"
    + "|".join(
        r"[\s-]+".join(map(re.escape, phrase.split()))
        for phrase in """à la carte|a la carte|déjà vu|deja vu|vive la|vive le|laissez faire|
        de facto|ad hoc|per se|vis à vis|raison d'être|tour de force|c'est la vie|coup de grâce|
        fait accompli|savoir faire|bon voyage|status quo|mea culpa|bona fide|in situ|
        quid pro quo|modus operandi|en route|en masse|faux pas|par excellence|avant garde|
        pièce de résistance|carte blanche|joie de vivre|je ne sais quoi|tête à tête|
        cul de sac|nom de plume|prima facie|pro bono|ad infinitum|vice versa|et cetera|
        post mortem|a priori|de rigueur|au contraire|voilà|fin de siècle""".split("|")
    )
    + r")(?!\w)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Script:
    """The script evidence in a text: the other script that dominates, its language, and
    whether it outweighs the English prose around it."""

    name: str
    lang: str
    weight: float  # the characters of every non-Latin script, weighted (kana with its Han)
    english: float  # letters of English prose words

    @property
    def decides(self) -> bool:
        return self.weight > self.english


def other_script(text: str, english_letters: int) -> Script | None:
    """The non-Latin script of a text, when it has one (None for Latin-only text).

    english_letters: the letters of the text's English prose words (function words and
    words of the English vocabulary); product names and acronyms are not among them.
    """
    if text.isascii():
        return None
    letters = len(_NON_LATIN_LETTER.findall(text))
    # A word or two of another script in English prose is a quoted name at most; with no
    # English prose around it ("Kubernetes NetworkPolicy 入門"), it is the text's language.
    if letters < (MIN_SCRIPT_LETTERS if english_letters else 2):
        vietnamese = len(_VIETNAMESE.findall(text))
        if vietnamese >= MIN_SCRIPT_LETTERS:
            return Script("Vietnamese letters", "vi", 4.0 * vietnamese, float(english_letters))
        return None
    best: tuple[float, str, str] | None = None
    total = 0.0  # every script's weight: Japanese writes Han among its kana, Korean Hangul
    for name, lang, pattern, weight in _SCRIPTS:
        count = len(pattern.findall(text))
        total += count * weight
        if count and (best is None or count * weight > best[0]):
            best = (count * weight, name, lang)
    if best is None:  # letters of a script not listed: count them as letters
        return Script("non-Latin", "und", float(letters), float(english_letters))
    _, name, lang = best
    if lang == "zh" and _KANA.search(text):
        lang = "ja"  # Japanese writes Han characters among its kana
    return Script(name, lang, total, float(english_letters))


# -- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Language:
    lang: str
    confidence: float
    probabilities: dict[str, float]
    decided_by: str  # "script", "function words", "langdetect", "feed language", ...


def ordinary_words(text: str) -> list[str]:
    # Acronyms (BGP, OSPF) say nothing about the language.
    return [w for w in WORD.findall(text) if not w.isupper() and len(w) > 1]


@lru_cache(maxsize=1)
def _langdetect() -> Any:
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0  # langdetect samples at random: a fixed seed, same answers
    init_factory()
    from langdetect.detector_factory import _factory

    return _factory


def _probabilities(text: str) -> list[tuple[str, float]]:
    detector = _langdetect().create()
    detector.append(text)
    try:
        found = detector.get_probabilities()
    except Exception:  # langdetect raises when it finds no features at all
        return []
    return [(p.lang.split("-")[0], round(p.prob, 4)) for p in found]


_ANY_OTHER_FUNCTION_WORD = frozenset().union(*OTHER_FUNCTION_WORDS.values())


def _other_function_words(lowered: list[str]) -> tuple[str, int]:
    """The Latin-script language with the most function words in the text, and how many."""
    if _ANY_OTHER_FUNCTION_WORD.isdisjoint(lowered):  # English prose: in C, and done
        return "", 0
    best, count = "", 0
    for lang in _LATIN_LANGS:
        n = sum(map(OTHER_FUNCTION_WORDS[lang].__contains__, lowered))
        if n > count:
            best, count = lang, n
    return best, count


_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")


def _mostly(text: str, other: str) -> bool:
    """Whether more of text's characters are in sentences with more of the other
    language's function words than English ones than in sentences the other way round."""
    theirs = ours = 0
    for sentence in _SENTENCE.findall(text):
        lowered = [w.lower() for w in ordinary_words(sentence)]
        balance = sum(map(OTHER_FUNCTION_WORDS[other].__contains__, lowered)) - sum(
            map(ENGLISH_WORDS.__contains__, lowered)
        )
        if balance > 0:
            theirs += len(sentence)
        elif balance < 0:
            ours += len(sentence)
    return theirs > ours


def detect_language(
    text: str,
    fallback: str | None,
    fallback_kind: str = "feed language",
    vocabulary: frozenset[str] = frozenset(),
    lowered: list[str] | None = None,
    prose: frozenset[str] | None = None,
) -> Language:
    """The language of text. Clear evidence (script, function words) decides whatever the
    feed says; short or unsure text defers to the fallback (the feed's language).

    vocabulary: the English words of the team's corpus, technical terms included; prose:
    those that are English prose, not names of the field ("bgp", "ibgp", "kubectl" say
    nothing about the language of the text around them).
    """
    if lowered is None:
        lowered = [w.lower() for w in ordinary_words(text)]
    if len(lowered) < MIN_WORDS and _LOAN_PHRASES.search(text):
        # Phrases English borrowed ("Déjà vu: OSPF flaps again", "BGP à la carte") are
        # English in a short text: the rest of it decides.
        text = _LOAN_PHRASES.sub(" ", text)
        lowered = [w.lower() for w in ordinary_words(text)]
    words = lowered
    english = sum(map(ENGLISH_WORDS.__contains__, lowered))
    if not text.isascii() and (_NON_LATIN_LETTER.search(text) or _VIETNAMESE.search(text)):
        prose_words = vocabulary if prose is None else prose
        letters = sum(len(w) for w in lowered if w in ENGLISH_WORDS or w in prose_words)
        script = other_script(text, letters)
        if script is not None and english < MIN_OTHER_FUNCTION_WORDS:
            # English nouns in another script's sentences ("บทความนี้อธิบาย segment routing
            # architecture ของ provider core ...") are the names the issue leaves to that
            # language: with no English grammar around them (fewer function words than
            # clear evidence needs), only the function words weigh for English.
            grammar = sum(len(w) for w in lowered if w in ENGLISH_WORDS)
            script = replace(script, english=float(grammar))
        if script is not None and script.decides:
            lang = script.lang
            found: list[tuple[str, float]] = []
            if lang in _SCRIPT_LANGUAGES:
                # One script writes several languages: langdetect tells which, if it can.
                found = _probabilities(_LATIN_WORDS.sub(" ", text))  # the English names confuse it
                lang = next((code for code, _ in found if code in _SCRIPT_LANGUAGES[lang]), lang)
            return Language(lang, 1.0, dict(found) or {lang: 1.0}, f"script ({script.name})")
    other, other_count = _other_function_words(lowered) if words else ("", 0)
    # Two with no English function word decide a short text, where they are a fifth of
    # the words, not a list of terms ("le 28" in a prefix-list).
    short_and_foreign = other_count == 2 and not english and other_count >= 0.2 * len(words)
    # Clear evidence of both (an English epigraph over a Portuguese post): the language
    # of most of the text, sentence by sentence.
    mixed = (
        other_count >= MIN_OTHER_FUNCTION_WORDS
        and english >= MIN_OTHER_FUNCTION_WORDS
        and _mostly(text, other)
    )
    if (other_count >= MIN_OTHER_FUNCTION_WORDS or short_and_foreign) and (other_count > english or mixed):
        found = _probabilities(text)
        # langdetect may tell apart two close languages (Indonesian and Malay).
        lang = found[0][0] if found and found[0][0] in OTHER_FUNCTION_WORDS else other
        how = f"function words ({lang}{', in most sentences' if other_count <= english else ''})"
        return Language(lang, 1.0, dict(found) or {other: 1.0}, how)
    if len(words) >= MIN_WORDS:
        share = english / len(words)
        # A longer text needs a few different ones: "in", "do" and "so" are also Slovenian,
        # Croatian or Swahili words, which the lists above do not hold, and one of them
        # five times over is no English prose.
        if share >= ENGLISH_SHARE and (
            len(words) < 2 * MIN_WORDS or len(ENGLISH_WORDS.intersection(lowered)) >= MIN_OTHER_FUNCTION_WORDS
        ):
            return Language("en", 1.0, {"en": 1.0}, "function words")
        if vocabulary and sum(map(vocabulary.__contains__, lowered)) / len(words) >= ENGLISH_VOCABULARY_SHARE:
            return Language("en", 1.0, {"en": 1.0}, "English vocabulary")
        found = _probabilities(text)
        probabilities = dict(found)
        if found and found[0][1] >= MIN_CONFIDENCE:
            return Language(found[0][0], found[0][1], probabilities, "langdetect")
        if fallback:
            return Language(fallback, 0.0, probabilities, f"{fallback_kind} (langdetect unsure)")
        if found:
            return Language(found[0][0], found[0][1], probabilities, "langdetect")
    elif words:
        # Short text. Mostly English words ("Kubernetes Gateway API", "OSPF vs IS-IS"):
        # langdetect would guess wildly, so the feed decides. Mostly words English does
        # not use ("Prediksi togel hari ini"): langdetect decides if it is sure.
        foreign = _short_and_foreign(lowered, other_count, english, vocabulary, prose)
        if foreign is not None:
            return foreign
        # Words that could be prose of another language: letters only, or words of them
        # joined by hyphens ("DDoS-Angriff", not "v1.4.0"), and more than one of them
        # (langdetect reads a lone tool name, "subnetcalc 4.0", as Romanian or Welsh).
        unknown = sum(
            1
            for w in lowered
            if w.replace("-", "").isalpha() and w not in vocabulary and w not in ENGLISH_WORDS
        )
        if vocabulary and unknown >= 2 and 2 * unknown >= len(words):
            found = _probabilities(text)
            english_p = dict(found).get("en", 0.0)
            # Most words are not English and langdetect does not see English either.
            if found and found[0][0] != "en" and found[0][1] >= 0.5 and english_p < 0.1:
                return Language(found[0][0], found[0][1], dict(found), "langdetect (short text)")
    if fallback:
        return Language(fallback, 0.0, {}, f"{fallback_kind} (text too short to tell)")
    return Language("und", 0.0, {}, "text too short to tell")


def _short_and_foreign(
    lowered: list[str],
    other_count: int,
    english: int,
    vocabulary: frozenset[str],
    prose: frozenset[str] | None,
) -> Language | None:
    """A short text in another language around English names ("Kubernetes Ingress mit
    Traefik einrichten"): once the field's names are set aside, its words are another
    language's (a function word of it among them, no English one), and langdetect, reading
    those words alone, is sure which."""
    if not other_count or english or prose is None:
        return None
    rest = [w for w in lowered if w not in vocabulary or w in prose]  # the names set aside
    if sum(1 for w in rest if w not in prose) < 2:
        return None
    found = _probabilities(" ".join(rest))
    if found and found[0][0] != "en" and found[0][1] >= MIN_CONFIDENCE:
        return Language(found[0][0], found[0][1], dict(found), "words around the names (short text)")
    return None
