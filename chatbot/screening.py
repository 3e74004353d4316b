"""Stage 1: screen a message before any model runs. Deterministic rules, loaded from data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from chatbot.semantic import SCREENER, SemanticScreener
from chatbot.types import Route, Screening

RULES_FILE = Path(__file__).parent / "rules" / "screening.yaml"
ESCALATING: frozenset[str] = frozenset({"emergency", "crisis", "urgent"})
SEMANTIC_REFUSE_THRESHOLD = 0.85
ADVICE_THRESHOLD = 0.7  # for an escalation of a message the rules read as a request for individual advice
UNANCHORED_THRESHOLD = 0.75  # for an escalation with no word of its topic (see `anchors` in screening.yaml)
SEMANTIC_THRESHOLD = 0.5  # chosen by 5-fold cross-validation on the exemplar bank (see README, Safety)


@dataclass(frozen=True)
class ScreeningRule:
    rule_id: str
    route: Route
    reply_key: str
    any_of: tuple[re.Pattern[str], ...]
    also: tuple[re.Pattern[str], ...] = ()
    flag: str | None = None
    always: bool = False  # fires on general ("educational") wording too
    keep_when_resolved: bool = False  # "it's fine now" does not turn it into `urgent`
    first_aid: str | None = None  # catalogue key shown after the emergency reply

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
    history: tuple[re.Pattern[str], ...] = ()
    mention: tuple[re.Pattern[str], ...] = ()
    support: tuple[re.Pattern[str], ...] = ()
    present: tuple[re.Pattern[str], ...] = ()
    general: tuple[re.Pattern[str], ...] = ()
    frames: tuple[re.Pattern[str], ...] = ()  # taken out before the `personal` test
    debunk: tuple[re.Pattern[str], ...] = ()  # a myth or claim to check: harmful-request rules do not refuse it
    negated: tuple[re.Pattern[str], ...] = ()  # "no fever": taken out before the rules look for symptoms
    anchors: tuple[re.Pattern[str], ...] = ()  # topic words of every escalation the classifier may make
    anchored_labels: frozenset[str] = frozenset()  # the labels that need one (or UNANCHORED_THRESHOLD)


def _compile(patterns: list[str] | None) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns or ())


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> RuleBook:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    anchors = data.get("anchors") or {}
    rules = tuple(
        ScreeningRule(
            rule_id=r["id"],
            route=r["route"],
            reply_key=r["reply"],
            any_of=_compile(r["any"]),
            also=_compile(r.get("also")),
            flag=r.get("flag"),
            always=bool(r.get("always")),
            keep_when_resolved=bool(r.get("keep_when_resolved")),
            first_aid=r.get("first_aid"),
        )
        for r in data["rules"]
    )
    return RuleBook(rules, _compile(data["educational"]), _compile(data["personal"]), _compile(data["resolved"]),
                    _compile(data.get("history")), _compile(data.get("mention")), _compile(data.get("support")),
                    _compile(data.get("present")), _compile(data.get("general")), _compile(data.get("frames")),
                    _compile(data.get("debunk")), _compile(data.get("negated")),
                    tuple(p for patterns in anchors.values() for p in _compile(patterns)), frozenset(anchors))


def screen(text: str, rules: RuleBook | None = None, semantic: SemanticScreener | None = SCREENER,
           threshold: float = SEMANTIC_THRESHOLD) -> Screening:
    """Decide the route of a normalised message. The first rule that fires wins; when no rule escalates, the
    semantic layer may still escalate (or refuse, when no rule fired at all)."""
    book = rules or load_rules()
    lowered = text.lower()
    educational, general = _matches(book.educational, lowered), _matches(book.general, lowered)
    claim = _matches(book.debunk, lowered)  # "is it true you should chew an aspirin if...": a claim to check
    educational_only = (educational or claim) and not _matches(book.personal, _without(book.frames, lowered))
    elsewhere = (_matches(book.history, lowered) or _matches(book.mention, lowered)
                 or _matches(book.support, lowered) or general) and (not _matches(book.present, lowered)
                                                          or _matches(book.resolved, lowered))
    not_now = educational_only or elsewhere  # nothing is happening to anyone now: teach, do not escalate
    decided, findings = None, _without(book.negated, lowered)
    for rule in book.rules:
        if not rule.fires(findings):
            continue
        if rule.route in ESCALATING and not_now and not rule.always:
            continue
        if rule.flag == "harmful" and claim:
            continue
        flags = (rule.flag,) if rule.flag else ()
        if rule.route == "emergency" and not rule.keep_when_resolved and _matches(book.resolved, lowered):
            return Screening("urgent", flags + ("resolved_symptoms",), rule.rule_id, "urgent")
        decided = Screening(rule.route, flags, rule.rule_id, rule.reply_key, rule.first_aid)
        break
    if decided is not None and (decided.route != "answer" or semantic is None):
        return decided
    if semantic is not None and _long_enough(text):
        verdict = semantic.verdict(text)
        allowed = frozenset() if not_now else ESCALATING
        if decided is not None:  # a question about a diagnosis or a dose: the rules found no red flag in it, so
            threshold = max(threshold, ADVICE_THRESHOLD)  # the classifier must be surer to escalate it
        # Refusing needs more certainty than escalating: at 0.5 the classifier refused 5 of 200 real patient
        # questions (K-QA: "would you recommend trying Lexapro first?"), and a wrongly refused patient gets nothing.
        # A request the rules read as individual advice may still be a harmful one ("change the 10 on my
        # prescription to 40"): the rules for those cannot know every wording.
        if verdict.label == "refuse" and verdict.probability >= SEMANTIC_REFUSE_THRESHOLD \
                and not (educational or general):
            return Screening("refuse", ("semantic",), "semantic:refuse", "refuse")
        anchored = verdict.label not in book.anchored_labels or _matches(book.anchors, lowered)
        needed = threshold if anchored else max(threshold, UNANCHORED_THRESHOLD)
        if verdict.probability >= needed and verdict.label in allowed:
            if verdict.label == "emergency" and _matches(book.resolved, lowered):
                return Screening("urgent", ("semantic", "resolved_symptoms"), "semantic:emergency", "urgent")
            return Screening(verdict.label, ("semantic",), f"semantic:{verdict.label}", verdict.label)
    return decided or Screening("answer", ("educational",) if not_now else ())


def screen_with(text: str, settings) -> Screening:
    """`screen` as the settings configure it."""
    return screen(text, semantic=SCREENER if settings.semantic_screening else None,
                  threshold=settings.semantic_threshold)


def _long_enough(text: str) -> bool:
    """The classifier guesses on a few words ("am I contagious?" scored as a crisis): it needs 4 words or more
    (6 Han characters). Short emergencies ("cant breathe", "chest pain") are the rules' job."""
    return len(re.findall(r"\w+", text)) >= 4 or len(re.findall(r"[\u4e00-\u9fff]", text)) >= 6


def _without(patterns: tuple[re.Pattern[str], ...], text: str) -> str:
    for pattern in patterns:
        text = pattern.sub(" ", text)
    return text


def _matches(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)
