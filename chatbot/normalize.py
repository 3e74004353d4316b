"""Input normalisation, run before screening so that hidden characters cannot slip past the rules."""

from __future__ import annotations

import re
import unicodedata

# zero-width and joiners, bidi embeddings/overrides/isolates, word joiner..invisible operators, BOM, soft hyphen
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFKC, invisible and control characters removed, whitespace collapsed. Idempotent."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    # NFKC can expose new invisible characters only in pathological input; one more pass keeps it idempotent
    return text if text == unicodedata.normalize("NFKC", text) else normalize_text(text)


def has_words(text: str) -> bool:
    """True when the text has at least one letter or digit (not only emoji or punctuation)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
