"""Text helpers shared by indexing and verification: tokens, sentences, numbers. Chinese has no spaces, so CJK
runs become character unigrams and bigrams."""

from __future__ import annotations

import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W\d_]+(?:'[^\W\d_]+)?|\d+(?:[.,]\d+)?", re.UNICODE)
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# a sentence ends at . ! ? (or their CJK forms) followed by space/end, or at a line break
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？；])\s*|\n+")
_ABBREVIATIONS = {"e.g.", "i.e.", "dr.", "mr.", "mrs.", "ms.", "vs.", "etc.", "u.s.", "st.", "no.", "approx."}
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
DOSE_UNIT = re.compile(r"\b(?:mg|mcg|µg|milligrams?|micrograms?|grams?|ml|milliliters?|millilitres?|cc|iu|units?|"
                       r"tablespoons?|teaspoons?|tsp|tbsp|puffs?|drops?|tablets?|pills?|capsules?|doses?)\b|毫克|毫升|片|粒",
                       re.IGNORECASE)
_LIST_MARK = re.compile(r"^(?:\d+[.)]|[-*+•])$")
_NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                 "eight": "8", "nine": "9", "ten": "10", "twelve": "12", "twenty": "20", "hundred": "100"}

STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers him his how
i if in into is it its itself just me more most my no nor not now of off on once only or other our out over own same
she should so some such than that the their them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours yourself
el la los las un una unos unas de del al a en y o que es son por para con sin su sus se lo le les me mi mis tu
como más pero muy ya si no qué cómo cuál cuando este esta estos estas ese esa hay ser estar puede pueden
""".split())


def latin_length(text: str) -> int:
    """Length in Latin-letter terms: a Chinese character carries about as much as three Latin letters."""
    return len(text) + 2 * sum("\u4e00" <= ch <= "\u9fff" for ch in text)


def tokens(text: str) -> list[str]:
    """Lower-case search tokens without stopwords; CJK runs give unigrams and bigrams."""
    out: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if _CJK_RUN.match(token):
            out.extend(token)
            out.extend(token[i:i + 2] for i in range(len(token) - 1))
        elif token not in STOPWORDS:
            out.append(_stem(token))
    return out


def _stem(token: str) -> str:
    """A light plural fold ("infections" -> "infection"); enough for lexical recall, never shown."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def content_words(text: str) -> set[str]:
    return {t for t in tokens(text) if not t.isdigit() and (len(t) > 2 or _CJK_RUN.match(t))}


def split_sentences(text: str) -> list[str]:
    """Whole sentences of a finished text (bullets and headings become their own sentences)."""
    sentences, pending = [], ""
    for piece in _SENTENCE_END.split(text):
        if not piece or not piece.strip():
            continue
        pending = f"{pending} {piece.strip()}".strip() if pending else piece.strip()
        if pending.split()[-1].lower() in _ABBREVIATIONS or _LIST_MARK.match(pending):
            continue
        sentences.append(pending)
        pending = ""
    if pending:
        sentences.append(pending)
    return [s for s in (clean_sentence(s) for s in sentences) if s]


def clean_sentence(sentence: str) -> str:
    """Strip Markdown list markers, emphasis and headings from one sentence."""
    s = re.sub(r"^\s*(?:[-*+•]|\d+[.)]|#+)\s+", "", sentence)
    s = re.sub(r"(\*\*|__|\*|`)", "", s)
    return s.strip()


def numbers(text: str) -> set[str]:
    """The numbers in a text, units dropped, digits and number words alike ("two" -> "2")."""
    found = {m.group(0).rstrip(".,").replace(",", "") for m in NUMBER.finditer(text)}
    words = {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return {n for n in found | words if n}


def dose_units(text: str) -> set[str]:
    return {m.group(0).lower().rstrip("s") for m in DOSE_UNIT.finditer(text)}
