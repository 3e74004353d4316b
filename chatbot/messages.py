"""The message catalogue: every fixed text shown to patients, per language, filled from settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chatbot.config import Settings

LOCALES = Path(__file__).parent / "locales"
FALLBACK_LANGUAGE = "en"


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> dict[str, Any]:
    path = LOCALES / f"{lang}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}


def languages() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in LOCALES.glob("*.yaml")))


def has_language(lang: str) -> bool:
    return bool(_catalogue(lang))


def has_message(key: str, lang: str) -> bool:
    """Whether `lang`'s own catalogue has `key` (optional texts are shown only in the patient's language)."""
    return bool(_catalogue(lang).get(key))


def message(key: str, lang: str, settings: Settings, **values: Any) -> str:
    """The text for `key` in `lang` (English when that language lacks it), with the numbers for `lang` filled in."""
    template = _catalogue(lang).get(key) or _catalogue(FALLBACK_LANGUAGE)[key]
    fill = {**settings.numbers_for(lang), "max_chars": settings.max_question_chars, **values}
    return str(template).format(**fill)


def examples(lang: str) -> list[str]:
    return list(_catalogue(lang).get("examples") or _catalogue(FALLBACK_LANGUAGE)["examples"])
