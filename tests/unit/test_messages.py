"""The message catalogue: every fixed text exists in every language and carries the configured numbers."""

from __future__ import annotations

import string

import pytest
import yaml

from chatbot.config import Settings
from chatbot.errors import ConfigError
from chatbot.messages import LOCALES, examples, has_language, languages, message


def catalogue(lang: str) -> dict:
    return yaml.safe_load((LOCALES / f"{lang}.yaml").read_text(encoding="utf-8"))


ENGLISH_KEYS = sorted(catalogue("en"))
SETTINGS = Settings(emergency_number="112", crisis_line="116 123", poison_line="0800 123 456", max_question_chars=500)


def test_the_shipped_languages() -> None:
    assert {"en", "es", "zh", "hi"} <= set(languages())
    assert has_language("es") and not has_language("xx")


@pytest.mark.parametrize("lang", ["es", "zh", "hi"])
def test_every_english_key_is_translated(lang: str) -> None:
    translated = catalogue(lang)
    # first-aid texts are optional: shown only in a language that has them (es and zh must)
    optional = lambda key: key.startswith("first_aid_") and lang not in ("es", "zh")  # noqa: E731
    missing = [key for key in ENGLISH_KEYS if not translated.get(key) and not optional(key)]
    assert missing == []


@pytest.mark.parametrize("lang", ["en", "es", "zh", "hi"])
@pytest.mark.parametrize("key", [k for k in ENGLISH_KEYS if k != "examples"])
def test_every_message_fills_without_leftover_placeholders(lang: str, key: str) -> None:
    text = message(key, lang, SETTINGS)
    assert text.strip()
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("lang", ["en", "es", "zh", "hi"])
@pytest.mark.parametrize("key", ["emergency", "emergency_poison", "crisis", "crisis_eating", "urgent", "refuse",
                                 "no_answer", "error", "notice"])
def test_safety_messages_carry_the_configured_emergency_number(lang: str, key: str) -> None:
    assert "112" in message(key, lang, SETTINGS)
    assert "911" not in message(key, lang, SETTINGS)


@pytest.mark.parametrize("lang", ["en", "es", "zh", "hi"])
def test_crisis_and_poison_messages_carry_their_lines(lang: str) -> None:
    assert "116 123" in message("crisis", lang, SETTINGS)
    assert "116 123" in message("crisis_eating", lang, SETTINGS)
    assert "0800 123 456" in message("emergency_poison", lang, SETTINGS)


def test_default_numbers() -> None:
    settings = Settings()
    assert "911" in message("emergency", "en", settings)
    assert "988" in message("crisis", "en", settings)
    assert "1-800-222-1222" in message("emergency_poison", "en", settings)


@pytest.mark.parametrize("lang", ["en", "es", "zh"])
def test_too_long_names_the_limit(lang: str) -> None:
    assert "500" in message("too_long", lang, SETTINGS)


def test_an_unknown_language_gets_english() -> None:
    assert message("emergency", "xx", SETTINGS) == message("emergency", "en", SETTINGS)
    assert examples("xx") == examples("en")


def test_messages_are_in_their_language() -> None:
    assert message("empty", "es", SETTINGS) == "Escriba su pregunta de salud."
    assert message("empty", "zh", SETTINGS) == "请输入您的健康问题。"


def test_extra_values_are_filled() -> None:
    assert message("too_long", "en", SETTINGS, max_chars=42).count("42") == 1


@pytest.mark.parametrize("lang", ["en", "es", "zh"])
def test_examples_are_a_list_of_questions(lang: str) -> None:
    shown = examples(lang)
    assert len(shown) >= 3 and all(isinstance(q, str) and q for q in shown)


@pytest.mark.parametrize("lang", ["en", "es", "zh", "hi"])
def test_placeholders_are_only_known_settings(lang: str) -> None:
    known = {"emergency_number", "crisis_line", "poison_line", "max_chars"}
    for key, template in catalogue(lang).items():
        if isinstance(template, str):
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            assert names <= known, (lang, key)


HINDI_AT_LEAST = ["notice", "english_source", "no_answer", "emergency", "emergency_poison", "crisis",
                  "crisis_eating", "error"]


@pytest.mark.parametrize("key", HINDI_AT_LEAST)
def test_hindi_has_the_safety_texts_in_devanagari(key: str) -> None:
    text = catalogue("hi")[key]
    assert text and sum("\u0900" <= ch <= "\u097f" for ch in text) > len(text) / 3, key


def test_every_page_text_and_example_is_in_every_language() -> None:
    for lang in ("en", "es", "zh", "hi"):
        missing = [key for key in ("title", "placeholder", "send", "start_over", "sources", "busy", "waiting",
                                    "examples")
                   if not catalogue(lang).get(key)]
        assert missing == [], lang
    assert len({examples(lang)[0] for lang in ("en", "es", "zh", "hi")}) == 4


def test_numbers_can_differ_per_language_and_default_to_the_single_settings() -> None:
    settings = Settings(emergency_number="911", crisis_line="988", emergency_numbers={"es": "112"},
                        crisis_lines={"es": "024"}, poison_lines={"zh": "120"})
    assert "112" in message("emergency", "es", settings) and "911" not in message("emergency", "es", settings)
    assert "024" in message("crisis", "es", settings) and "112" in message("crisis", "es", settings)
    assert "120" in message("emergency_poison", "zh", settings)
    assert "911" in message("emergency", "en", settings) and "911" in message("notice", "hi", settings)
    assert "988" in message("crisis", "zh", settings)


def test_numbers_per_language_are_read_from_the_environment_and_a_toml_file(tmp_path) -> None:
    env = Settings.load({"CHATBOT_EMERGENCY_NUMBERS": "es=112, zh = 120", "CHATBOT_CRISIS_LINES": ""})
    assert (env.emergency_numbers, env.crisis_lines) == ({"es": "112", "zh": "120"}, {})
    config = tmp_path / "chatbot.toml"
    config.write_text('[emergency_numbers]\nES = "112"\n', encoding="utf-8")
    assert Settings.load({"CHATBOT_CONFIG": str(config)}).numbers_for("es")["emergency_number"] == "112"
    with pytest.raises(ConfigError, match="emergency_numbers"):
        Settings.load({"CHATBOT_EMERGENCY_NUMBERS": "112"})
