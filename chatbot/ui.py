"""The patient chat page (Gradio): verified sentences appear as they are ready, sources under each answer, the
"AI, not a clinician" notice and the emergency number above the first answer, example questions, start over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import gradio as gr

from chatbot import messages
from chatbot.config import Settings
from chatbot.types import Delta, Done, Query, Reply, Turn

if TYPE_CHECKING:
    from chatbot.web import ChatService

MAX_HISTORY = 12


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


def build_ui(service: "ChatService", settings: Settings) -> gr.Blocks:
    lang = settings.default_language

    def respond(message: str, history: list[dict], request: gr.Request) -> Iterator[tuple[str, list[dict]]]:
        locale = (request.query_params.get("lang") if request else None) or None
        query = Query(message or "", history_turns(history), locale)
        history = history + [{"role": "user", "content": message or ""}, {"role": "assistant", "content": ""}]
        yield "", history
        for event in service.stream(query, "page"):
            if isinstance(event, Delta):
                history[-1]["content"] += event.text
            elif isinstance(event, Done):
                history[-1]["content"] = event.reply.text + sources_markdown(event.reply, event.reply.language,
                                                                             settings)
            yield "", history

    with gr.Blocks(title=messages.message("title", lang, settings), analytics_enabled=False) as demo:
        gr.Markdown(f"## {messages.message('title', lang, settings)}")
        gr.Markdown(messages.message("notice", lang, settings), elem_classes=["notice"], elem_id="notice")
        chat = gr.Chatbot(label=messages.message("title", lang, settings), height=460, elem_id="chat",
                          buttons=["copy"], feedback_options=None, allow_file_downloads=False)
        with gr.Row():
            box = gr.Textbox(placeholder=messages.message("placeholder", lang, settings), show_label=False,
                             scale=5, max_lines=6, elem_id="question", autofocus=True)
            send = gr.Button(messages.message("send", lang, settings), variant="primary", scale=1, elem_id="send")
        reset = gr.Button(messages.message("start_over", lang, settings), size="sm", elem_id="start-over")
        gr.Examples(examples=messages.examples(lang), inputs=box, label=None)
        send.click(respond, [box, chat], [box, chat], api_visibility="private")
        box.submit(respond, [box, chat], [box, chat], api_visibility="private")
        reset.click(lambda: ("", []), None, [box, chat], api_visibility="private")
    return demo
