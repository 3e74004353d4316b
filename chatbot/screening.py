"""Stage 1: screen a message before any model runs. Deterministic rules, loaded from data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from chatbot.types import Route, Screening

RULES_FILE = Path(__file__).parent / "rules" / "screening.yaml"
ESCALATING: frozenset[str] = frozenset({"emergency", "crisis", "urgent"})


@dataclass(frozen=True)
class ScreeningRule:
    rule_id: str
    route: Route
    reply_key: str
    any_of: tuple[re.Pattern[str], ...]
    also: tuple[re.Pattern[str], ...] = ()
    flag: str | None = None
    always: bool = False  # fires on general ("educational") wording too

    def fires(self, text: str) -> bool:
        if not any(p.search(text) for p in self.any_of):
            return False
        return not self.also or any(p.search(text) for p in self.also)


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[ScreeningRule, ...]
    educational: tuple[re.Pattern[str], ...]
    personal: tuple[re.Pattern[str], ...]
    resolved: tuple[re.Pattern[str], ...]


def _compile(patterns: list[str] | None) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns or ())


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> RuleBook:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = tuple(
        ScreeningRule(
            rule_id=r["id"],
            route=r["route"],
            reply_key=r["reply"],
            any_of=_compile(r["any"]),
            also=_compile(r.get("also")),
            flag=r.get("flag"),
            always=bool(r.get("always")),
        )
        for r in data["rules"]
    )
    return RuleBook(rules, _compile(data["educational"]), _compile(data["personal"]), _compile(data["resolved"]))


def screen(text: str, rules: RuleBook | None = None) -> Screening:
    """Decide the route of a normalised message. The first rule that fires wins."""
    book = rules or load_rules()
    lowered = text.lower()
    educational_only = _matches(book.educational, lowered) and not _matches(book.personal, lowered)
    for rule in book.rules:
        if not rule.fires(lowered):
            continue
        if rule.route in ESCALATING and educational_only and not rule.always:
            continue
        flags = (rule.flag,) if rule.flag else ()
        if rule.route == "emergency" and _matches(book.resolved, lowered):
            return Screening("urgent", flags + ("resolved_symptoms",), rule.rule_id, "urgent")
        return Screening(rule.route, flags, rule.rule_id, rule.reply_key)
    return Screening("answer", ("educational",) if educational_only else ())


def _matches(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)
