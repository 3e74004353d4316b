"""The patient chat page (Gradio): verified sentences appear as they are ready, sources under each answer, the
"AI, not a clinician" notice and the emergency number above the first answer, example questions, start over.
The page speaks the patient's language: `?lang=es` on load, then the language of the latest reply."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from chatbot import messages
from chatbot.config import Settings
from chatbot.types import Delta, Done, Query, Reply, Turn

if TYPE_CHECKING:
    from chatbot.web import ChatService

MAX_HISTORY = 12
WAIT_NOTICE_S = 3.0  # a patient still waiting in the queue after this sees a "your answer will start" line
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def sources_markdown(reply: Reply, lang: str, settings: Settings) -> str:
    if not reply.citations:
        return ""
    links = " · ".join(f"[{_escape(c.title)}]({c.url})" for c in reply.citations)
    return f"\n\n**{messages.message('sources', lang, settings)}:** {links}"


def _escape(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


def history_turns(history: list[dict]) -> tuple[Turn, ...]:
    """Earlier turns as the pipeline sees them: text only, sources stripped, the last few."""
    turns = []
    for message in history[-MAX_HISTORY:]:
        role, content = message.get("role"), message.get("content")
        if role in ("user", "assistant") and isinstance(content, str):
            turns.append(Turn(role, content.split("\n\n**")[0]))
    return tuple(turns)


def page_locale(value: str | None) -> str | None:
    """The language code of a host page's `?lang=` ("es-MX" -> "es"); None when absent or not a code."""
    match = _LOCALE.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def page_texts(lang: str, settings: Settings) -> dict[str, Any]:
    """Every label of the page in `lang` (English for what its catalogue lacks)."""
    say = lambda key: messages.message(key, lang, settings)  # noqa: E731
    return {"title": f"## {say('title')}", "notice": say("notice"), "chat": say("title"),
            "placeholder": say("placeholder"), "send": say("send"), "start_over": say("start_over"),
            "examples": [[q] for q in messages.examples(lang)]}


def build_ui(service: "ChatService", settings: Settings) -> gr.Blocks:
    texts = page_texts(settings.default_language, settings)

    def relabel(lang: str) -> tuple:
        t = page_texts(lang, settings)
        return (gr.update(value=t["title"]), gr.update(value=t["notice"]), gr.update(label=t["chat"]),
                gr.update(placeholder=t["placeholder"]), gr.update(value=t["send"]),
                gr.update(value=t["start_over"]), gr.update(samples=t["examples"]))

    def on_load(request: gr.Request) -> tuple:
        lang = page_locale(request.query_params.get("lang") if request else None) or settings.default_language
        return (lang, *relabel(lang))

    def respond(message: str, history: list[dict], lang: str, request: gr.Request
                ) -> Iterator[tuple[str, list[dict], str]]:
        locale = page_locale(request.query_params.get("lang") if request else None)
        query = Query(message or "", history_turns(history), locale)
        history = history + [{"role": "user", "content": message or ""}, {"role": "assistant", "content": ""}]
        yield "", history, lang
        ticket = service.admission.try_enter()
        started = ticket is not None and ticket.start(WAIT_NOTICE_S, give_up=False)
        if ticket is not None and not started:  # a line now, so that nobody waits long without a word
            history[-1]["content"] = messages.message("waiting", lang, settings)
            yield "", history, lang
            started = ticket.start(max(settings.queue_wait_s - WAIT_NOTICE_S, 0.0))
        if not started:
            service.metrics.busy.labels("page").inc()
            history[-1]["content"] = messages.message("busy", lang, settings)
            yield "", history, lang
            return
        try:
            history[-1]["content"] = ""
            for event in service.stream(query, "page"):
                if isinstance(event, Delta):
                    history[-1]["content"] += event.text
                elif isinstance(event, Done):
                    lang = event.reply.language
                    history[-1]["content"] = event.reply.text + sources_markdown(event.reply, lang, settings)
                yield "", history, lang
        finally:
            ticket.leave()

    def pick_example(index: int | None, lang: str) -> str:
        shown = messages.examples(lang)
        return shown[index] if index is not None and 0 <= index < len(shown) else ""

    with gr.Blocks(title=texts["chat"], analytics_enabled=False) as demo:
        lang_state = gr.State(settings.default_language)
        title = gr.Markdown(texts["title"], elem_id="title")
        notice = gr.Markdown(texts["notice"], elem_classes=["notice"], elem_id="notice")
        chat = gr.Chatbot(label=texts["chat"], height=460, elem_id="chat",
                          buttons=["copy"], feedback_options=None, allow_file_downloads=False)
        with gr.Row():
            box = gr.Textbox(placeholder=texts["placeholder"], show_label=False,
                             scale=5, max_lines=6, elem_id="question", autofocus=True)
            send = gr.Button(texts["send"], variant="primary", scale=1, elem_id="send")
        reset = gr.Button(texts["start_over"], size="sm", elem_id="start-over")
        # a Dataset rather than gr.Examples: its samples change with the language, and a click is resolved
        # against the examples of the page's current language
        examples = gr.Dataset(components=[box], samples=texts["examples"], type="index", show_label=False,
                              elem_id="examples")
        labelled = [title, notice, chat, box, send, reset, examples]
        demo.load(on_load, None, [lang_state, *labelled], api_visibility="private", queue=False)
        for event in (send.click, box.submit):
            event(respond, [box, chat, lang_state], [box, chat, lang_state], api_visibility="private").then(
                relabel, [lang_state], labelled, api_visibility="private", queue=False)
        examples.click(pick_example, [examples, lang_state], box, api_visibility="private", queue=False)
        reset.click(lambda: ("", []), None, [box, chat], api_visibility="private")
    return demo
