"""Settings: defaults that work, a TOML file, environment variables that win, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.config import ROOT, Settings
from chatbot.errors import ConfigError


def test_defaults_work_out_of_the_box() -> None:
    settings = Settings.load({})
    assert settings == Settings()
    assert settings.knowledge_dir == ROOT / "knowledge"
    assert settings.resolved_index_dir == ROOT / ".cache" / "index"
    assert settings.model_dir == ROOT / ".cache" / "models" / "smollm2-135m-instruct"
    assert (settings.generator, settings.emergency_number, settings.port) == ("local", "911", 7860)


def test_environment_overrides_are_coerced_to_the_field_type() -> None:
    settings = Settings.load({"CHATBOT_TOP_K": "5", "CHATBOT_MIN_RELEVANCE": "0.3",
                              "CHATBOT_KNOWLEDGE_DIR": "/data/knowledge", "CHATBOT_EMERGENCY_NUMBER": "112",
                              "CHATBOT_GENERATOR_LANGUAGES": "en, es,,zh", "CHATBOT_INDEX_DIR": ""})
    assert settings.top_k == 5
    assert settings.min_relevance == 0.3
    assert settings.knowledge_dir == Path("/data/knowledge")
    assert settings.emergency_number == "112"
    assert settings.generator_languages == ("en", "es", "zh")
    assert settings.index_dir is None


def test_index_dir_follows_cache_dir_unless_set() -> None:
    assert Settings.load({"CHATBOT_CACHE_DIR": "/c"}).resolved_index_dir == Path("/c/index")
    assert Settings.load({"CHATBOT_CACHE_DIR": "/c", "CHATBOT_INDEX_DIR": "/i"}).resolved_index_dir == Path("/i")


def test_import_dir_follows_cache_dir_and_the_index_reads_both_libraries() -> None:
    settings = Settings.load({"CHATBOT_CACHE_DIR": "/c", "CHATBOT_KNOWLEDGE_DIR": "/k"})
    assert settings.resolved_import_dir == Path("/c/imported")
    assert settings.library_dirs == (Path("/k"), Path("/c/imported"))
    assert Settings.load({"CHATBOT_IMPORT_DIR": "/i"}).resolved_import_dir == Path("/i")


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("no", False), ("", False)])
def test_exclude_overdue_is_off_unless_set(value: str, expected: bool) -> None:
    assert Settings().exclude_overdue is False
    assert Settings.load({"CHATBOT_EXCLUDE_OVERDUE": value}).exclude_overdue is expected


@pytest.mark.parametrize("name, value", [("TOP_K", "three"), ("PORT", "80.5"), ("MIN_RELEVANCE", "high"),
                                         ("OPENAI_RETRIES", "")])
def test_a_bad_value_names_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({f"CHATBOT_{name}": value})
    assert name.lower() in str(caught.value)
    assert repr(value) in str(caught.value)


def test_toml_file_sets_values_and_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "chatbot.toml"
    path.write_text('top_k = 4\nemergency_number = "999"\ngenerator_languages = ["en", "es"]\n'
                    'knowledge_dir = "/srv/knowledge"\n', encoding="utf-8")
    settings = Settings.load({"CHATBOT_CONFIG": str(path), "CHATBOT_TOP_K": "6"})
    assert settings.top_k == 6
    assert settings.emergency_number == "999"
    assert settings.generator_languages == ("en", "es")
    assert settings.knowledge_dir == Path("/srv/knowledge")


def test_unknown_key_in_toml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "chatbot.toml"
    path.write_text('top_k = 4\ntopk = 5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="topk"):
        Settings.load({"CHATBOT_CONFIG": str(path)})


def test_bad_value_in_toml_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "chatbot.toml"
    path.write_text('top_k = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="top_k"):
        Settings.load({"CHATBOT_CONFIG": str(path)})


@pytest.mark.parametrize("content", [None, "top_k = = 4\n"])
def test_an_unreadable_settings_file_is_a_clear_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "chatbot.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="Cannot read the settings file"):
        Settings.load({"CHATBOT_CONFIG": str(path)})


def test_load_reads_the_process_environment_by_default(monkeypatch) -> None:
    monkeypatch.setenv("CHATBOT_CRISIS_LINE", "116 123")
    assert Settings.load().crisis_line == "116 123"


def test_replace_returns_a_new_settings() -> None:
    base = Settings()
    changed = base.replace(top_k=9)
    assert changed.top_k == 9 and base.top_k == 3
    with pytest.raises(Exception):
        base.top_k = 4  # frozen
