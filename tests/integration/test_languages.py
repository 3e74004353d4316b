"""Answers in the patient's language with the real embedder, model and knowledge; the page and the API follow the
language too."""

from __future__ import annotations


import httpx
import pytest

from chatbot import messages
from chatbot.config import Settings
from chatbot.language import detect
from chatbot.pipeline import Pipeline
from chatbot.types import Query

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 120_000


@pytest.mark.parametrize("question, lang", [
    ("¿Cómo puedo bajar la presión alta?", "es"),
    ("怎样降低高血压？", "zh"),
])
def test_a_question_is_answered_in_its_language_with_a_citation(real_pipeline: Pipeline, question: str,
                                                                 lang: str) -> None:
    reply = real_pipeline.answer(Query(question))
    assert (reply.language, reply.route) == (lang, "answer"), (reply.route, reply.flags, reply.text)
    assert "english_source" not in reply.flags
    assert detect(reply.text) == lang, reply.text
    assert "high-blood-pressure" in {c.doc_id for c in reply.citations}, reply.citations
    assert all(c.url.startswith("https://") for c in reply.citations)


def test_a_hindi_question_gets_english_guidance_and_is_told_so_in_hindi(real_pipeline: Pipeline,
                                                                      real_settings: Settings) -> None:
    """We hold no Hindi guidance: the glossary finds the English topic, and a Hindi notice says the source is
    English."""
    reply = real_pipeline.answer(Query("मुझे हाई ब्लड प्रेशर है, मैं इसे कैसे कम करूँ?"))
    assert (reply.language, reply.route) == ("hi", "answer"), (reply.route, reply.flags)
    assert {"english_source", "glossary"} <= set(reply.flags), reply.flags
    assert reply.text.startswith(messages.message("english_source", "hi", real_settings))
    assert "high-blood-pressure" in {c.doc_id for c in reply.citations}, reply.citations


def test_a_hindi_question_on_a_topic_we_lack_gets_the_hindi_no_answer(real_pipeline: Pipeline,
                                                                       real_settings: Settings) -> None:
    reply = real_pipeline.answer(Query("इस गोली का रंग क्या है?"))  # "what colour is this pill?": no topic named
    assert (reply.language, reply.route) == ("hi", "no_answer")
    assert reply.text == messages.message("no_answer", "hi", real_settings)


def test_the_api_lang_field_decides_a_short_message(http: httpx.Client) -> None:
    record = http.post("/api/v1/chat", json={"question": "ok", "lang": "es"}).json()
    assert record["language"] == "es", record


def test_the_page_follows_the_hosts_lang_and_then_the_conversation(browser, live_server: str,
                                                                   real_settings: Settings) -> None:
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(live_server + "/?lang=es", wait_until="domcontentloaded")
    spanish = messages.message("placeholder", "es", real_settings)
    box = page.locator("#question textarea")
    page.wait_for_function("p => document.querySelector('#question textarea')?.placeholder === p", arg=spanish)
    assert "inteligencia artificial" in page.locator("#notice").inner_text()
    assert messages.examples("es")[0] in page.locator("#examples").inner_text()
    page.locator("#examples button").first.click()
    page.wait_for_function("q => document.querySelector('#question textarea')?.value === q",
                           arg=messages.examples("es")[0])

    box.fill("怎样降低高血压？")
    page.locator("#send").click()
    chinese = messages.message("placeholder", "zh", real_settings)
    page.wait_for_function("p => document.querySelector('#question textarea')?.placeholder === p", arg=chinese,
                           timeout=ANSWER_TIMEOUT_MS)
    assert page.locator("#send").inner_text().strip() == messages.message("send", "zh", real_settings)
    assert messages.examples("zh")[0] in page.locator("#examples").inner_text()
    assert "医生" in page.locator("#notice").inner_text()
    page.close()
