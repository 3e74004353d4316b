"""Language detection: which language the reply is written in."""

from __future__ import annotations

import pytest

from chatbot.language import deciding_script, detect, detect_language, dominant_script, guess_short, reply_language


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


@pytest.mark.parametrize("text, lang", [
    ("tengo fever and headache", "es"),  # Spanish grammar around English medical words: a Spanish speaker
    ("my son tiene tos", "es"),
    ("¿Puedo tomar ibuprofen with food?", "es"),
    ("我有 high blood pressure", "zh"),  # two Han characters outweigh the English around them
    ("mst药物/？", "zh"),
    ("pregabalin的最大剂量是多少", "zh"),
    ("Desonide मरहम किसके लिए प्रयोग किया जाता है?", "hi"),
    ("मुझे fever है", "hi"),
])
def test_a_mixed_message_is_read_as_the_patients_language(text: str, lang: str) -> None:
    assert detect_language(text, fallback="xx") == lang


@pytest.mark.parametrize("text", ["मुझे बुखार है", "क्या मैं खाली पेट दवा ले सकता हूँ?", "Tizanidine के",
                                  "सिर दर्द"])
def test_hindi_is_hindi_even_short(text: str) -> None:
    # langdetect alone reads a quarter of two-word Hindi prefixes as Marathi or Nepali
    assert detect(text) == "hi"


@pytest.mark.parametrize("text, lang", [
    ("Qu'est-ce que je peux prendre pour faire baisser la fièvre de mon enfant ?", "fr"),
    ("Ich habe seit drei Tagen starke Kopfschmerzen und Husten", "de"),
    ("Tôi bị sốt và đau đầu từ hôm qua, tôi nên làm gì?", "vi"),
    ("Болить голова і температура", "uk"),
    ("سر درد دارم و تب دارم", "fa"),
    ("مجھے بخار ہے اور سر میں درد ہے", "ur"),
])
def test_languages_we_hold_nothing_in_are_still_named(text: str, lang: str) -> None:
    """Restricting langdetect to English and Spanish must not swallow other languages: they get an
    English-source answer, and the reply says which language was asked in."""
    assert detect(text) == lang


@pytest.mark.parametrize("text", [
    "¿Qué pasa si el meclizine no funciona?",  # langdetect alone: Italian
    "¿Qué tipo de medicamento es Tudorza Pressair?",  # langdetect alone: Portuguese
    "qué es la morfina",  # langdetect alone: French
])
def test_spanish_that_langdetect_reads_as_a_neighbour_stays_spanish(text: str) -> None:
    assert detect(text) == "es"


@pytest.mark.parametrize("text, lang", [
    ("fiebre alta", "es"), ("dolor cabeza", "es"), ("tengo fever", "es"), ("fiebre", "es"),
    ("high fever", "en"), ("chest pain", "en"), ("sore throat", "en"), ("can you", "en"),
    ("pregabalin", None), ("ok", None), ("123", None),
])
def test_a_guess_from_one_or_two_words(text: str, lang: str | None) -> None:
    assert detect(text) is None  # too short to decide on its own ...
    assert guess_short(text) == lang  # ... but a guess when nothing else tells


def test_the_reply_language_follows_message_then_conversation_then_page_then_words() -> None:
    spanish = ["Mi hijo tiene fiebre desde ayer"]
    assert reply_language("How can I lower my blood pressure?", spanish, "zh") == "en"  # the message tells
    assert reply_language("ok thanks", spanish, "zh") == "es"  # too short: the conversation
    assert reply_language("ok thanks", ["ok", "chest pain"], "zh") == "zh"  # nothing earlier tells: the page
    assert reply_language("fiebre alta", (), None) == "es"  # nothing else: the words
    assert reply_language("😀", (), None, default="hi") == "hi"
    assert reply_language("发烧", ["How can I lower my blood pressure?"], "es") == "zh"  # a script decides alone


def test_deciding_script_counts_vowel_signs() -> None:
    assert deciding_script("Norvasc में") == "DEVANAGARI"  # म plus two signs
    assert deciding_script("fever 发") == "LATIN"  # one Han character among English is not enough
