from pathlib import Path

from chatbot.glossary import Glossary, load_glossaries


def test_the_bundled_hindi_glossary_loads_and_names_topics() -> None:
    hindi = load_glossaries()["hi"]
    assert "diabetes" in hindi.translate("मधुमेह में क्या खाना चाहिए?")
    assert "high blood pressure" in hindi.translate("हाई ब्लड प्रेशर कैसे कम करें")
    assert "metformin" in hindi.translate("मेटफॉर्मिन के दुष्प्रभाव")


def test_longer_terms_win_and_words_are_not_repeated() -> None:
    glossary = Glossary((("उच्च रक्तचाप", "high blood pressure"), ("रक्तचाप", "blood pressure")), ())
    assert glossary.translate("उच्च रक्तचाप और रक्तचाप") == "high blood pressure"


def test_context_words_alone_name_no_topic() -> None:
    glossary = Glossary((("मधुमेह", "diabetes"),), (("दवा", "medicine"),))
    assert glossary.translate("यह दवा क्या है") == ""
    assert glossary.translate("मधुमेह की दवा") == "diabetes medicine"


def test_glossary_files_are_found_by_language(tmp_path: Path) -> None:
    (tmp_path / "glossary_xx.yaml").write_text("terms: {foo: bar}\ncontext: {}\n", encoding="utf-8")
    load_glossaries.cache_clear()
    try:
        assert load_glossaries(tmp_path)["xx"].translate("FOO baz") == "bar"
    finally:
        load_glossaries.cache_clear()
