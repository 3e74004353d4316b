"""Every patient is answered in their own language, end to end: detection, retrieval in that language with English
as the fallback (and a notice saying so, in the patient's language), curated text in that language, fixed texts
and numbers per language. The tiny knowledge gains a Chinese fever topic here."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot import messages
from chatbot.language import detect
from chatbot.pipeline import Pipeline, safe_error_reply
from chatbot.text import split_sentences
from chatbot.types import Query, Turn

from conftest import topic

FAXIAO = {"是什么": "发烧是指体温达到三十八度或者更高的情况。发烧通常说明您的身体正在努力对抗某种感染。",
          "怎么办": "发烧的时候请多喝水，并且在家里好好休息。如果发烧持续超过三天，请尽快联系您的诊所。"}
# Most Chinese sentences in knowledge/zh are this short (20 characters or fewer)
FAXIAO_SHORT = {"是什么": "发烧是体温达到38度或更高。它常说明身体在对抗感染。", "怎么办": "多喝水，多休息。"}
ENGLISH_FEVER = "Drink plenty of water and rest."


@pytest.fixture
def pipeline(make_pipeline, never_called, tiny_knowledge: Path) -> Pipeline:
    """Curated text only (the generator writes English alone and is never asked here)."""
    (tiny_knowledge / "zh").mkdir()
    (tiny_knowledge / "zh" / "fever.md").write_text(topic("fever", "发烧", "zh", FAXIAO), encoding="utf-8")
    return make_pipeline(generator=never_called)


def say(pipeline: Pipeline, key: str, lang: str) -> str:
    return messages.message(key, lang, pipeline.settings)


@pytest.mark.parametrize("question, lang, title", [
    ("¿Qué hago si tengo fiebre?", "es", "Fiebre"),
    ("fiebre alta", "es", "Fiebre"),  # two words
    ("发烧了怎么办？", "zh", "发烧"),
    ("发烧怎么办", "zh", "发烧"),
    ("发烧", "zh", "发烧"),  # two characters
])
def test_a_question_is_answered_from_guidance_in_its_language(pipeline, question: str, lang: str, title: str
                                                               ) -> None:
    reply = pipeline.answer(Query(question))
    # the language is the point here: screening may put its "see a clinician today" pointer first
    assert reply.language == lang and reply.route in ("answer", "urgent"), reply.text
    assert "english_source" not in reply.flags
    assert [c.title for c in reply.citations] == [title]
    if lang == "zh":
        curated_sentences = {s for text in FAXIAO.values() for s in split_sentences(text)}
        shown = set(split_sentences(reply.text)) - set(split_sentences(say(pipeline, "urgent", "zh")))
        assert shown and shown <= curated_sentences, reply.text
    else:
        assert detect(reply.text) == "es" and "fiebre" in reply.text.lower()


def test_a_chinese_answer_from_short_curated_sentences_is_not_empty(make_pipeline, never_called,
                                                                    tiny_knowledge: Path) -> None:
    (tiny_knowledge / "zh").mkdir()
    (tiny_knowledge / "zh" / "fever.md").write_text(topic("fever", "发烧", "zh", FAXIAO_SHORT), encoding="utf-8")
    reply = make_pipeline(generator=never_called).answer(Query("发烧了怎么办？"))
    assert reply.language == "zh" and reply.route in ("answer", "urgent")
    assert "多喝水" in reply.text or "38度" in reply.text


@pytest.mark.parametrize("question", ["What helps a fever in adults?", "fever remedies"])
def test_english_gets_english(make_pipeline, scripted, question: str) -> None:
    reply = make_pipeline(generator=scripted(f"{ENGLISH_FEVER} Acetaminophen can help you feel more comfortable."
                                             )).answer(Query(question))
    assert reply.language == "en" and reply.route in ("answer", "fallback", "urgent")
    assert detect(reply.text) == "en"
    assert [c.doc_id for c in reply.citations] == ["fever"]


@pytest.mark.parametrize("question, lang", [
    ("tengo asthma, how do I use my inhaler?", "es"),  # Spanish grammar around English words: a Spanish speaker
    ("我有 high blood pressure", "zh"),
])
def test_a_mixed_message_gets_english_guidance_with_the_notice_in_the_patients_language(pipeline, question: str,
                                                                                         lang: str) -> None:
    reply = pipeline.answer(Query(question))
    assert reply.language == lang
    assert "english_source" in reply.flags
    assert reply.text.startswith(say(pipeline, "english_source", lang))
    assert reply.citations and reply.citations[0].doc_id in {"asthma", "high-blood-pressure"}


def test_hindi_gets_english_guidance_and_says_so_in_hindi(pipeline) -> None:
    # no Hindi guidance exists: the English words let the hash embedder find the English topic
    reply = pipeline.answer(Query("asthma inhaler कैसे use करें?"))
    assert reply.language == "hi" and reply.route == "answer"
    assert "english_source" in reply.flags and "curated_text" in reply.flags
    notice = say(pipeline, "english_source", "hi")
    assert reply.text.startswith(notice) and "अंग्रेज़ी" in notice
    assert "Use your inhaler the way your care team showed you." in reply.text
    assert [c.doc_id for c in reply.citations] == ["asthma"]


def test_a_hindi_question_with_no_guidance_gets_the_hindi_no_answer(pipeline) -> None:
    reply = pipeline.answer(Query("मेरे घुटने में बहुत दर्द रहता है, क्या करूँ?"))
    assert (reply.language, reply.route) == ("hi", "no_answer")
    assert reply.text == say(pipeline, "no_answer", "hi")


def test_a_language_without_a_catalogue_gets_the_english_notice(pipeline) -> None:
    reply = pipeline.answer(Query("Wie benutze ich meinen asthma inhaler richtig, wenn ich Husten habe?"))
    assert reply.language == "de"
    assert "english_source" in reply.flags
    assert reply.text.startswith(say(pipeline, "english_source", "en"))


@pytest.mark.parametrize("message", ["ok gracias", "y para niños?", "gracias"])
def test_a_short_follow_up_keeps_the_conversations_language(pipeline, message: str) -> None:
    history = (Turn("user", "¿Qué hago si tengo fiebre?"), Turn("assistant", "Tome mucha agua y descanse."))
    assert pipeline.answer(Query(message, history)).language == "es"


def test_a_short_message_follows_the_page_before_its_own_words(pipeline, make_pipeline) -> None:
    assert pipeline.answer(Query("fever", locale="zh")).language == "zh"
    assert pipeline.answer(Query("asthma inhaler", locale="es")).language == "es"
    english = make_pipeline().answer(Query("How do I use my asthma inhaler?", locale="es"))
    assert english.language == "en"


def test_an_emergency_number_can_differ_per_language(make_pipeline, never_called) -> None:
    pipeline = make_pipeline(generator=never_called, emergency_numbers={"es": "112"})
    spanish = pipeline.answer(Query("tengo un dolor muy fuerte en el pecho"))
    english = pipeline.answer(Query("I have crushing chest pain"))
    assert spanish.route == english.route == "emergency"
    assert "112" in spanish.text and "911" not in spanish.text
    assert "911" in english.text


def test_the_error_reply_uses_the_pages_language(settings) -> None:
    reply = safe_error_reply(Query("x", locale="es"), settings)
    assert reply.language == "es" and reply.text == messages.message("error", "es", settings)
    assert safe_error_reply(Query("x", locale="xx"), settings).language == "en"
