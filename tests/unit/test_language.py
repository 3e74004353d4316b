"""Language detection: which language the reply is written in."""

from __future__ import annotations

import pytest

from chatbot.language import detect_language, dominant_script


@pytest.mark.parametrize("text, lang", [
    ("How can I lower my blood pressure?", "en"),
    ("What helps a fever in adults?", "en"),
    ("¿Qué puedo hacer para bajar la fiebre?", "es"),
    ("Mi hijo tiene tos y dolor de garganta desde ayer", "es"),
    ("发烧了怎么办？", "zh"),
    ("感冒需要吃抗生素吗", "zh"),
    ("熱があります。どうすればいいですか", "ja"),  # kanji with kana is Japanese, not Chinese
    ("열이 나요", "ko"),
    ("У меня высокая температура и болит голова", "ru"),
])
def test_detects_the_language_of_a_question(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["", "😀😀", "?!", "1234", "ok", "fiebre", "hello there"])
def test_too_short_or_wordless_text_gives_the_fallback(text: str) -> None:
    assert detect_language(text, fallback="es") == "es"
    assert detect_language(text, fallback="zh") == "zh"


def test_detection_is_deterministic() -> None:
    text = "Tengo fiebre y me duele la cabeza, qué puedo tomar"
    assert {detect_language(text) for _ in range(5)} == {"es"}


def test_dominant_script() -> None:
    assert dominant_script("fever 发烧发烧") == "LATIN"
    assert dominant_script("我发烧了 ok") == "CJK"
    assert dominant_script("123 !?") is None
