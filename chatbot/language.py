"""Stage 2: detect the language of a message (langdetect, seeded, with the script as evidence).

Order of evidence: a script that names its language (Han, Devanagari, Hangul...) wins, even mixed with Latin
drug names; Latin text of three words or more goes to langdetect, restricted to the Latin-script languages we hold
guidance in unless it is clearly another language; a message too short to tell follows the conversation, then the
locale the host page passes, and only then a cautious guess from its own words.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from langdetect import DetectorFactory, detect_langs
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

from chatbot.text import STOPWORDS

DetectorFactory.seed = 0  # langdetect is random by default; a seed makes it deterministic
_LOCK = threading.Lock()  # langdetect's factory is shared global state

# Scripts that name the language on their own (or nearly so). Devanagari is also Marathi and Nepali, which
# langdetect confuses with Hindi on short text: we read it as Hindi, the language we hold texts for.
_SCRIPT_LANGUAGE = {"HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "DEVANAGARI": "hi", "THAI": "th",
                    "ARABIC": "ar", "HEBREW": "he", "GREEK": "el", "CYRILLIC": "ru", "CJK": "zh",
                    "BENGALI": "bn", "TAMIL": "ta", "TELUGU": "te", "GUJARATI": "gu", "GURMUKHI": "pa",
                    "KANNADA": "kn", "MALAYALAM": "ml", "ARMENIAN": "hy", "GEORGIAN": "ka", "ETHIOPIC": "am",
                    "KHMER": "km", "LAO": "lo", "MYANMAR": "my", "SINHALA": "si"}
# Scripts shared by several languages: langdetect chooses among these, the script's default when unsure.
_SCRIPT_CHOICES = {"CYRILLIC": frozenset({"ru", "uk", "bg", "mk"}), "ARABIC": frozenset({"ar", "fa", "ur"})}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
KNOWN_LATIN = frozenset({"en", "es"})  # the Latin-script languages we hold guidance and messages in
MIN_WORDS_FOR_LATIN = 3  # fewer Latin words: the conversation or the page decides before the words do
MIN_SCRIPT_LETTERS = 2  # this many letters of a telling script outweigh any amount of Latin (drug names, "ok")
MIN_PROBABILITY = 0.70
SHORT_PROBABILITY = 0.90  # a guess from one or two words, used only when nothing else tells
# Another Latin-script language (fr, de, vi, tl) is taken only when langdetect is sure, the message is long enough
# and few of its words are English or Spanish function words: short Spanish is often read as pt/ca/it/fr.
FOREIGN_PROBABILITY, FOREIGN_MIN_WORDS, FOREIGN_MAX_KNOWN_SHARE = 0.99, 6, 0.25
# Words that tell English from Spanish where langdetect cannot (one or two words, or a mix). A patient mixing
# the two writes their own grammar around English medical words ("tengo fever and headache", "my son tiene tos"
# is rarer): any Spanish word means a Spanish speaker, who is answered in Spanish. Words that are also English
# ("me", "no", "son", "sin", "hay", "mi" as MI) or also Spanish ("he", "has", "a") are left out.
SPANISH_WORDS = frozenset("""
el los las del y con para por pero muy qué que cómo cuál cuándo dónde porque también tengo tiene tienen tienes
tenemos estoy está están estaba soy puedo puede pueden debo debe necesito quiero mis sus una unos unas duele
hijo hija niño niña bebé esposo esposa mamá papá fiebre dolor tos cabeza pecho garganta estómago presión azúcar
embarazada medicina medicamento medicamentos pastilla pastillas gripe resfriado sangre mucho mucha días desde
ayer hoy noche tomar tomo cuando si se
""".split())
ENGLISH_WORDS = frozenset("""
the an is are was were what how why when where which who can could should would will do does did i my you your
it its this that these those with for of and or to have had not after before about from at by be been if there
they them their she his her we our us
""".split())


def script_of(ch: str) -> str | None:
    """The script of a letter or of a vowel sign (Devanagari writes most vowels as signs: के, में)."""
    category = unicodedata.category(ch)
    if not (category.startswith("L") or category in ("Mn", "Mc")):
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    if name.startswith("COMBINING"):
        return None
    if name.startswith("CJK") or "IDEOGRAPH" in name:
        return "CJK"
    first = name.split(" ")[0]
    return first if first in _SCRIPT_LANGUAGE or first == "LATIN" else "OTHER"


def dominant_script(text: str) -> str | None:
    counts = Counter(s for s in map(script_of, text) if s)
    if not counts:
        return None
    # Japanese mixes kanji with kana: any kana means Japanese
    if counts["HIRAGANA"] or counts["KATAKANA"]:
        return "HIRAGANA"
    return counts.most_common(1)[0][0]


def deciding_script(text: str) -> str | None:
    """The script that decides the language: a telling script with a few letters wins over Latin around it
    ("我有 high blood pressure", "Desonide मरहम"); otherwise the most common script."""
    counts = Counter(s for s in map(script_of, text) if s)
    if not counts:
        return None
    if counts["HIRAGANA"] or counts["KATAKANA"]:  # Japanese mixes kanji with kana: any kana means Japanese
        return "HIRAGANA"
    telling = [(n, s) for s, n in counts.items() if s in _SCRIPT_LANGUAGE and n >= MIN_SCRIPT_LETTERS]
    return max(telling)[1] if telling else counts.most_common(1)[0][0]


def detect(text: str, known: frozenset[str] = KNOWN_LATIN) -> str | None:
    """ISO 639-1 code of `text`, or None when the text alone cannot tell (no letters, too few words, unclear)."""
    script = deciding_script(text)
    if script is None or script == "OTHER":
        return None
    if script in _SCRIPT_CHOICES:
        return _detect_among(text, _SCRIPT_CHOICES[script], MIN_PROBABILITY) or _SCRIPT_LANGUAGE[script]
    if script != "LATIN":
        return _SCRIPT_LANGUAGE[script]
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < MIN_WORDS_FOR_LATIN:
        return None
    return _detect_latin(text, words, known)


def detect_language(text: str, fallback: str = "en", known: frozenset[str] = KNOWN_LATIN) -> str:
    """ISO 639-1 code of `text`; `fallback` when the text is too short or too unclear to tell."""
    return detect(text, known) or fallback


def guess_short(text: str, known: frozenset[str] = KNOWN_LATIN) -> str | None:
    """A cautious guess for one or two Latin words ("fiebre alta"), among the languages we hold; None if unsure."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words or deciding_script(text) != "LATIN":
        return None
    vote = _word_vote(text, words) if known >= {"en", "es"} else None
    if vote:
        return vote
    return _detect_among(text, known, SHORT_PROBABILITY) if len(words) > 1 else None


def reply_language(text: str, earlier: Sequence[str] = (), locale: str | None = None, default: str = "en",
                   known: frozenset[str] = KNOWN_LATIN) -> str:
    """The language to answer in: the message's own; else the conversation's (the latest earlier message that
    tells); else the host page's locale; else a guess from a short message's words; else `default`."""
    found = detect(text, known)
    for previous in reversed(earlier):
        found = found or detect(previous, known)
    return found or locale or guess_short(text, known) or default


def _detect_latin(text: str, words: list[str], known: frozenset[str]) -> str | None:
    try:
        with _LOCK:
            guesses = detect_langs(text)
    except LangDetectException:
        return None
    best, code = guesses[0], guesses[0].lang.split("-")[0]
    if code not in known:
        known_share = sum(w in STOPWORDS for w in words) / len(words)
        if (best.prob >= FOREIGN_PROBABILITY and len(words) >= FOREIGN_MIN_WORDS
                and known_share < FOREIGN_MAX_KNOWN_SHARE):
            return code
        # langdetect reads short English or Spanish as languages we hold nothing in ("so", "tl", "pt", "ca"):
        # ask again among the languages we can answer in
        code = _detect_among(text, known, MIN_PROBABILITY)
    elif best.prob < MIN_PROBABILITY:
        code = _detect_among(text, known, MIN_PROBABILITY)
    if code in ("en", "es") and known >= {"en", "es"}:
        return _word_vote(text, words) or code
    return code


def _word_vote(text: str, words: list[str]) -> str | None:
    """Spanish if any word is clearly Spanish, else English if any word clearly is, else None."""
    if "¿" in text or "¡" in text or any(w in SPANISH_WORDS or "ñ" in w for w in words):
        return "es"
    return "en" if any(w in ENGLISH_WORDS for w in words) else None


@lru_cache(maxsize=8)
def _factory(languages: frozenset[str]) -> DetectorFactory:
    factory = DetectorFactory()
    factory.seed = 0
    factory.load_json_profile([(Path(PROFILES_DIRECTORY) / lang).read_text(encoding="utf-8")
                               for lang in sorted(languages) if (Path(PROFILES_DIRECTORY) / lang).exists()])
    return factory


def _detect_among(text: str, languages: frozenset[str], min_probability: float) -> str | None:
    with _LOCK:
        detector = _factory(languages).create()
        detector.append(text)
        try:
            guesses = detector.get_probabilities()
        except LangDetectException:
            return None
    return guesses[0].lang if guesses and guesses[0].prob >= min_probability else None
