"""Cross-language search words: a patient's question in a language we hold no guidance in (Hindi) is searched in
the English library with the English words of the health terms it contains. Dictionary-based query translation:
deterministic, offline, reviewable like the guidance; patients never see these words."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

GLOSSARY_DIR = Path(__file__).parent / "rules"


@dataclass(frozen=True)
class Glossary:
    terms: tuple[tuple[str, str], ...]  # (term, English words), longest term first
    context: tuple[tuple[str, str], ...]

    def translate(self, text: str) -> str:
        """The English search words for `text`, or "" when it names no topic or medicine we know."""
        lowered = text.lower()
        found_terms, lowered = _take(self.terms, lowered)
        if not found_terms:
            return ""
        found_context, _ = _take(self.context, lowered)
        words: list[str] = []
        for phrase in found_terms + found_context:
            words.extend(w for w in phrase.split() if w not in words)
        return " ".join(words)


def _take(pairs: tuple[tuple[str, str], ...], text: str) -> tuple[list[str], str]:
    found = []
    for term, english in pairs:
        if term in text:
            found.append(english)
            text = text.replace(term, " ")
        if not text.strip():
            break
    return found, text


def _pairs(mapping: dict | None) -> tuple[tuple[str, str], ...]:
    items = ((str(k).lower(), str(v)) for k, v in (mapping or {}).items())
    return tuple(sorted(items, key=lambda kv: len(kv[0]), reverse=True))


@lru_cache(maxsize=1)
def load_glossaries(folder: Path = GLOSSARY_DIR) -> dict[str, Glossary]:
    """`glossary_<lang>.yaml` files: {terms: {term: english}, context: {word: english}}."""
    glossaries = {}
    for path in sorted(folder.glob("glossary_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        glossaries[path.stem.removeprefix("glossary_")] = Glossary(_pairs(data.get("terms")), _pairs(data.get("context")))
    return glossaries
