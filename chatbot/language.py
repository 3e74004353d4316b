"""Stage 2: detect the language of a message (langdetect, seeded, with the script as evidence)."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

from langdetect import DetectorFactory, detect_langs
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

DetectorFactory.seed = 0  # langdetect is random by default; a seed makes it deterministic
_LOCK = threading.Lock()  # langdetect's factory is shared global state

# Scripts that name the language on their own (or nearly so).
_SCRIPT_LANGUAGE = {"HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "DEVANAGARI": "hi", "THAI": "th",
                    "ARABIC": "ar", "HEBREW": "he", "GREEK": "el", "CYRILLIC": "ru", "CJK": "zh"}
_WORD = re.compile(r"\w+", re.UNICODE)
MIN_WORDS_FOR_LATIN = 3
MIN_PROBABILITY = 0.70


def script_of(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    try:
        name = unicodedata.name(ch)
    except ValueError:
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


def detect_language(text: str, fallback: str = "en", known: frozenset[str] = frozenset({"en", "es"})) -> str:
    """ISO 639-1 code of `text`; `fallback` when the text is too short or too unclear to tell."""
    script = dominant_script(text)
    if script is None:
        return fallback
    if script in _SCRIPT_LANGUAGE and script != "CYRILLIC":
        return _SCRIPT_LANGUAGE[script]
    if script == "LATIN" and len(_WORD.findall(text)) < MIN_WORDS_FOR_LATIN:
        return fallback
    try:
        with _LOCK:
            guesses = detect_langs(text)
    except LangDetectException:
        return fallback
    best = guesses[0]
    code = best.lang.split("-")[0]
    if script == "LATIN" and (code not in known or best.prob < MIN_PROBABILITY):
        # langdetect reads short English or Spanish as languages we hold nothing in ("so", "tl", "pt", "ca"):
        # ask again among the languages we can answer in
        return _detect_among(text, known) or fallback
    return code if best.prob >= MIN_PROBABILITY else fallback


@lru_cache(maxsize=8)
def _factory(languages: frozenset[str]) -> DetectorFactory:
    factory = DetectorFactory()
    factory.seed = 0
    factory.load_json_profile([(Path(PROFILES_DIRECTORY) / lang).read_text(encoding="utf-8")
                               for lang in sorted(languages) if (Path(PROFILES_DIRECTORY) / lang).exists()])
    return factory


def _detect_among(text: str, languages: frozenset[str]) -> str | None:
    with _LOCK:
        detector = _factory(languages).create()
        detector.append(text)
        try:
            guesses = detector.get_probabilities()
        except LangDetectException:
            return None
    return guesses[0].lang if guesses and guesses[0].prob >= MIN_PROBABILITY else None
