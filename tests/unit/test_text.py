"""Text helpers: search tokens, sentences, numbers and dose units."""

from __future__ import annotations

import pytest

from chatbot.text import clean_sentence, content_words, dose_units, numbers, split_sentences, tokens


def test_tokens_drop_stopwords_and_fold_plurals() -> None:
    assert tokens("What are the symptoms of infections?") == ["symptom", "infection"]
    assert tokens("allergies and allergy") == ["allergy", "allergy"]
    assert tokens("stress, virus, diagnosis") == ["stress", "virus", "diagnosis"]  # not "stres", "viru"


def test_tokens_keep_numbers_and_apostrophes() -> None:
    assert tokens("Don't take 1.5 doses") == ["don't", "take", "1.5", "dose"]


def test_chinese_gives_character_unigrams_and_bigrams() -> None:
    assert tokens("发烧") == ["发", "烧", "发烧"]


def test_spanish_stopwords_are_dropped() -> None:
    assert tokens("¿Qué es la fiebre?") == ["fiebre"]


def test_content_words_skip_numbers_and_short_words() -> None:
    assert content_words("Take 2 pills of ibuprofen at 8 am") == {"take", "pill", "ibuprofen"}


@pytest.mark.parametrize("text, sentences", [
    ("Rest well. Drink water! Is it bad? Yes.", ["Rest well.", "Drink water!", "Is it bad?", "Yes."]),
    ("Take 1.5 cups of water. Then rest.", ["Take 1.5 cups of water.", "Then rest."]),
    ("Ask your doctor, e.g. your GP, about it. Then rest.",
     ["Ask your doctor, e.g. your GP, about it.", "Then rest."]),
    ("See Dr. Smith today. Bring your list.", ["See Dr. Smith today.", "Bring your list."]),
    ("Signs include:\n- A rash.\n- **Chills**\n1. Call us", ["Signs include:", "A rash.", "Chills", "Call us"]),
    ("## When to get help\nCall 911.", ["When to get help", "Call 911."]),
    ("发烧了。多喝水！休息", ["发烧了。", "多喝水！", "休息"]),
    ("", []),
])
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_clean_sentence_strips_markdown() -> None:
    assert clean_sentence("- **Drink** plenty of `water`.") == "Drink plenty of water."
    assert clean_sentence("2) Rest.") == "Rest."
    assert clean_sentence("### Heading") == "Heading"


@pytest.mark.parametrize("text, found", [
    ("Call 911 now.", {"911"}),
    ("Fever is 38C or higher.", {"38"}),
    ("Take 1.5 cups.", {"1.5"}),
    ("About 1,000 people.", {"1000"}),
    ("A reading of 130/80.", {"130", "80"}),
    ("Wait two or three days.", {"2", "3"}),
    ("No numbers here.", set()),
])
def test_numbers(text: str, found: set[str]) -> None:
    assert numbers(text) == found


def test_dose_units_fold_plurals_and_case() -> None:
    assert dose_units("Take 400 MG or two tablets, 5 ml") == {"mg", "tablet", "ml"}
    assert dose_units("每次2片") == {"片"}
    assert dose_units("Drink water.") == set()
