"""The semantic screening layer: trained on our exemplar bank, deterministic, no language model needed."""

from __future__ import annotations

import pytest

from chatbot.normalize import normalize_text
from chatbot.screening import screen
from chatbot.semantic import LABELS, SCREENER, load_exemplars


def test_the_exemplar_bank_is_large_labelled_and_in_three_languages() -> None:
    texts, labels = load_exemplars()
    assert len(texts) >= 1000
    assert set(labels) <= set(LABELS)
    for label in ("emergency", "crisis", "benign"):
        assert labels.count(label) >= 150, label
    assert any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t)  # Chinese lines


@pytest.mark.parametrize("message, route", [
    # wordings the rules do not know; written for this test, not taken from the bank or the evaluation sets
    ("it feels like a truck is parked on my ribs and my left arm went heavy", "emergency"),
    ("my wife's speech suddenly went funny and half her face isn't moving", "emergency"),
    ("i just want to fall asleep and never have to wake up again", "crisis"),
])
def test_indirect_wordings_are_escalated(message: str, route: str) -> None:
    result = screen(normalize_text(message))
    assert result.route == route


@pytest.mark.parametrize("message", [
    "what snacks are good for kids with a cold",
    "how often should I get my cholesterol checked",
    "my knee aches after running, should I ice it",
])
def test_ordinary_questions_stay_answers(message: str) -> None:
    assert screen(normalize_text(message)).route == "answer"


def test_verdicts_are_deterministic() -> None:
    message = "my chest feels funny after coffee"
    assert SCREENER.verdict(message) == SCREENER.verdict(message)


def test_screening_without_the_semantic_layer_still_applies_the_rules() -> None:
    assert screen("I have crushing chest pain", semantic=None).route == "emergency"
