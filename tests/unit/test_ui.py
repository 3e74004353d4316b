"""The chat page: labels and examples in the patient's language, the host page's `?lang=`, stable element ids."""

from __future__ import annotations

import pytest

from chatbot import messages
from chatbot.config import Settings
from chatbot.ui import build_ui, page_locale, page_texts


@pytest.mark.parametrize("value, lang", [("es", "es"), ("es-MX", "es"), ("ZH_cn", "zh"), ("hi", "hi"),
                                         (" en ", "en"), ("", None), (None, None), ("<script>", None),
                                         ("e", None), ("español", None)])
def test_the_host_pages_lang_parameter(value, lang) -> None:
    assert page_locale(value) == lang


@pytest.mark.parametrize("lang, send", [("en", "Send"), ("es", "Enviar"), ("zh", "发送"), ("hi", "भेजें")])
def test_page_texts_are_in_the_language(lang: str, send: str) -> None:
    settings = Settings(emergency_numbers={"es": "112"})
    texts = page_texts(lang, settings)
    assert texts["send"] == send
    assert texts["notice"] == messages.message("notice", lang, settings)
    assert texts["examples"] == [[q] for q in messages.examples(lang)]
    assert ("112" in texts["notice"]) == (lang == "es")


def test_a_language_without_a_catalogue_gets_english_labels() -> None:
    assert page_texts("fr", Settings()) == page_texts("en", Settings())


def test_the_page_keeps_its_element_ids() -> None:
    demo = build_ui(service=None, settings=Settings())  # the service is only used when a question is sent
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"chat", "question", "send", "start-over", "notice", "examples"} <= ids


def test_the_embed_page_has_the_conversation_notice_and_feedback_but_no_title_or_examples() -> None:
    demo = build_ui(service=None, settings=Settings(), embed=True)
    blocks = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert {"chat", "question", "send", "notice", "announce", "feedback-reason", "brand"} <= set(blocks)
    assert blocks["title"].visible is False and blocks["examples"].visible is False
    assert blocks["feedback-reason"].visible is False  # shown after "not helpful"


def test_the_announcement_is_the_whole_answer_with_its_sources_escaped() -> None:
    from chatbot.types import Citation, Reply
    from chatbot.ui import announcement

    reply = Reply("q", "Drink water <b>often</b>.", "en", "answer",
                  citations=(Citation("fever", "Fever", "https://medlineplus.gov/fever.html", 0.8),))
    assert announcement(reply, "en", Settings()) == \
        "<p>Answer: Drink water &lt;b&gt;often&lt;/b&gt;. Sources: Fever.</p>"


class _Request:
    query_params: dict = {}


def _respond(service, settings):
    demo = build_ui(service, settings)
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "respond")


def test_a_full_queue_shows_the_busy_line_in_the_pages_language(make_pipeline, scripted) -> None:
    from chatbot import messages
    from chatbot.web import ChatService, Metrics

    pipeline = make_pipeline(generator=scripted("Rest."), concurrency=1, queue_size=0, semantic_screening=False)
    service = ChatService(pipeline, Metrics())
    holder = service.admission.try_enter()
    assert holder.start(0)
    updates = list(_respond(service, pipeline.settings)("¿Qué ayuda con la fiebre?", [], "es", {}, _Request()))
    holder.leave()
    assert updates[-1][1][-1]["content"] == messages.message("busy", "es", pipeline.settings)
    assert service.admission.counts == (0, 0)


def test_a_patient_waiting_in_the_queue_is_told_then_answered(make_pipeline, scripted, monkeypatch) -> None:
    import threading

    from chatbot import messages, ui
    from chatbot.web import ChatService, Metrics

    monkeypatch.setattr(ui, "WAIT_NOTICE_S", 0.05)
    pipeline = make_pipeline(generator=scripted("Rest."), concurrency=1, queue_size=1, semantic_screening=False)
    service = ChatService(pipeline, Metrics())
    holder = service.admission.try_enter()
    holder.start(0)
    respond = _respond(service, pipeline.settings)
    threading.Timer(0.5, holder.leave).start()
    shown = [u[1][-1]["content"] for u in respond("What helps a fever?", [], "en", {}, _Request())]
    assert messages.message("waiting", "en", pipeline.settings) in shown
    assert shown[-1] and shown[-1] != messages.message("busy", "en", pipeline.settings)
    assert service.admission.counts == (0, 0)
