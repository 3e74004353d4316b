"""The patient chat page (Gradio): verified sentences appear as they are ready, sources under each answer, the
"AI, not a clinician" notice and the emergency number above the first answer, example questions, start over.
The page speaks the patient's language: `?lang=es` on load, then the language of the latest reply."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from chatbot import messages
from chatbot.config import Settings
from chatbot.markup import host_of, safe_markdown, safe_url
from chatbot.types import Delta, Done, Query, Reply, Turn

if TYPE_CHECKING:
    from chatbot.ratelimit import ClientLimiter
    from chatbot.web import ChatService

MAX_HISTORY = 12
WAIT_NOTICE_S = 3.0  # a patient still waiting in the queue after this sees a "your answer will start" line
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def sources_markdown(reply: Reply, lang: str, settings: Settings) -> str:
    if not reply.citations:
        return ""
    links = " · ".join(f"[{_escape(c.title)}]({_quote(c.url)})" if c.url.startswith("https://") and safe_url(c.url) else _escape(c.title)
                       for c in reply.citations)
    return f"\n\n**{messages.message('sources', lang, settings)}:** {links}"


def shown_reply(reply: Reply, lang: str, settings: Settings) -> str:
    """The reply as the page renders it: safe Markdown, links only to its sources' hosts, then the sources."""
    hosts = {host_of(c.url) for c in reply.citations if c.url.startswith("https://")}
    return safe_markdown(reply.text, hosts) + sources_markdown(reply, lang, settings)


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace("[", "(").replace("]", ")")


def _quote(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")


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
    return {"title": f"# {say('title')}", "notice": say("notice"), "chat": say("title"),
            "placeholder": say("placeholder"), "send": say("send"), "start_over": say("start_over"),
            "examples": [[q] for q in messages.examples(lang)]}


REASONS = ("wrong", "unclear", "not_my_question", "too_long", "missing_source", "other")  # audit.FEEDBACK_REASONS
# The answer is announced once, complete: a live region filled only when the reply is done (the chat log itself is
# not live, so a screen reader does not read every streamed sentence).
A11Y_JS = """() => {
  const live = document.getElementById('announce');
  if (live) { live.setAttribute('role', 'status'); live.setAttribute('aria-live', 'polite');
              live.setAttribute('aria-atomic', 'true'); }
  const quiet = () => { for (const el of document.querySelectorAll('#chat [aria-live]:not([aria-live="off"])'))
                          el.setAttribute('aria-live', 'off'); };
  quiet();
  const chat = document.getElementById('chat');
  if (chat) new MutationObserver(quiet).observe(chat, {subtree: true, childList: true, attributes: true,
                                                       attributeFilter: ['aria-live']});
}"""
SR_ONLY_CSS = """
.sr-only {position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
          clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;}
"""


def reason_choices(lang: str, settings: Settings) -> list[tuple[str, str]]:
    return [(messages.message(f"reason_{r}", lang, settings), r) for r in REASONS]


def announcement(reply: Reply, lang: str, settings: Settings) -> str:
    """What the live region says once the answer is complete: the answer and the titles of its sources."""
    sources = ", ".join(c.title for c in reply.citations)
    said = f"{messages.message('answer_ready', lang, settings)} {reply.text}"
    if sources:
        said += f" {messages.message('sources', lang, settings)}: {sources}."
    return f"<p>{html.escape(said)}</p>"


def build_ui(service: "ChatService", settings: Settings, embed: bool = False,
             limiter: "ClientLimiter | None" = None) -> gr.Blocks:
    """The patient page; `embed=True`: the iframe version (conversation, notice and sources; no title or examples)."""
    texts = page_texts(settings.default_language, settings)

    def limited(request: gr.Request | None) -> bool:
        if limiter is None or request is None:
            return False
        peer = request.client.host if request.client else None
        return not limiter.allow("page", limiter.client_id(request.headers, peer))

    def relabel(lang: str) -> tuple:
        t = page_texts(lang, settings)
        return (gr.update(value=t["title"]), gr.update(value=t["notice"]), gr.update(label=t["chat"]),
                gr.update(placeholder=t["placeholder"]), gr.update(value=t["send"]),
                gr.update(value=t["start_over"]), gr.update(samples=t["examples"]))

    def on_load(request: gr.Request) -> tuple:
        lang = page_locale(request.query_params.get("lang") if request else None) or settings.default_language
        return (lang, *relabel(lang))

    def respond(message: str, history: list[dict], lang: str, ids: dict, request: gr.Request) -> Iterator[tuple]:
        locale = page_locale(request.query_params.get("lang") if request else None)
        query = Query(message or "", history_turns(history), locale)
        history = history + [{"role": "user", "content": safe_markdown(message or "")},
                             {"role": "assistant", "content": ""}]
        if limited(request):  # before any model work; the patient reads why in the chat
            history[-1]["content"] = messages.message("rate_limited", lang, settings)
            yield "", history, lang, ids, gr.skip()
            return
        yield "", history, lang, ids, gr.skip()
        ticket = service.admission.try_enter()
        started = ticket is not None and ticket.start(WAIT_NOTICE_S, give_up=False)
        if ticket is not None and not started:  # a line now, so that nobody waits long without a word
            history[-1]["content"] = messages.message("waiting", lang, settings)
            yield "", history, lang, ids, gr.skip()
            started = ticket.start(max(settings.queue_wait_s - WAIT_NOTICE_S, 0.0))
        if not started:
            service.metrics.busy.labels("page").inc()
            history[-1]["content"] = messages.message("busy", lang, settings)
            yield "", history, lang, ids, gr.skip()
            return
        try:
            history[-1]["content"] = ""
            for event in service.stream(query, "embed" if embed else "page"):
                if isinstance(event, Delta):
                    history[-1]["content"] += safe_markdown(event.text)
                    yield "", history, lang, ids, gr.skip()
                elif isinstance(event, Done):
                    lang = event.reply.language
                    history[-1]["content"] = shown_reply(event.reply, lang, settings)
                    ids = {**ids, len(history) - 1: event.reply.reply_id}
                    yield "", history, lang, ids, announcement(event.reply, lang, settings)
        finally:
            ticket.leave()

    def on_like(data: gr.LikeData, ids: dict, lang: str) -> tuple:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        reply_id = ids.get(index)
        if not reply_id or data.liked is None:
            return gr.update(visible=False), gr.update(value="", visible=False), ""
        service.feedback(reply_id, bool(data.liked))
        if data.liked:
            return gr.update(visible=False), _thanks(lang), ""
        return (gr.update(visible=True, value=None, label=messages.message("feedback_prompt", lang, settings),
                          choices=reason_choices(lang, settings)), gr.update(value="", visible=False), reply_id)

    def on_reason(reason: str | None, reply_id: str, lang: str) -> tuple:
        if reply_id and reason in REASONS:
            service.feedback(reply_id, False, reason)
            return gr.update(visible=False, value=None), _thanks(lang), ""
        return gr.skip(), gr.skip(), reply_id

    def _thanks(lang: str):
        return gr.update(value=messages.message("feedback_thanks", lang, settings), visible=True)

    def pick_example(index: int | None, lang: str) -> str:
        shown = messages.examples(lang)
        return shown[index] if index is not None and 0 <= index < len(shown) else ""

    with gr.Blocks(title=texts["chat"], analytics_enabled=False) as demo:
        lang_state = gr.State(settings.default_language)
        ids_state = gr.State({})  # chat message index -> reply id, for feedback
        pending = gr.State("")  # the reply a "not helpful" reason is about
        if embed:
            gr.HTML(f'<h1 class="sr-only">{html.escape(texts["chat"])}</h1><div id="brand-logo"></div>',
                    elem_id="brand", padding=False)
        title = gr.Markdown(texts["title"], elem_id="title", visible=not embed)
        notice = gr.Markdown(texts["notice"], elem_classes=["notice"], elem_id="notice")
        chat = gr.Chatbot(label=texts["chat"], height=360 if embed else 460, elem_id="chat",
                          buttons=["copy"], feedback_options=("Like", "Dislike"), allow_file_downloads=False)
        reason = gr.Radio(choices=reason_choices(settings.default_language, settings), visible=False,
                          elem_id="feedback-reason", label=messages.message("feedback_prompt",
                                                                            settings.default_language, settings))
        thanks = gr.Markdown("", visible=False, elem_id="feedback-thanks")
        announce = gr.HTML("", elem_id="announce", elem_classes=["sr-only"], padding=False)
        with gr.Row():
            box = gr.Textbox(placeholder=texts["placeholder"], show_label=False,
                             scale=5, max_lines=6, elem_id="question", autofocus=True)
            send = gr.Button(texts["send"], variant="primary", scale=1, elem_id="send")
        reset = gr.Button(texts["start_over"], size="sm", elem_id="start-over")
        # a Dataset rather than gr.Examples: its samples change with the language, and a click is resolved
        # against the examples of the page's current language
        examples = gr.Dataset(components=[box], samples=texts["examples"], type="index", show_label=False,
                              elem_id="examples", visible=not embed)
        labelled = [title, notice, chat, box, send, reset, examples]
        demo.load(on_load, None, [lang_state, *labelled], api_visibility="private", queue=False)
        for event in (send.click, box.submit):
            # progress shows on the chat only: inside the live region, "processing | 0.2s" would be read aloud
            event(respond, [box, chat, lang_state, ids_state], [box, chat, lang_state, ids_state, announce],
                  api_visibility="private", show_progress_on=[chat]).then(relabel, [lang_state], labelled, api_visibility="private",
                                                 queue=False)
        examples.click(pick_example, [examples, lang_state], box, api_visibility="private", queue=False)
        chat.like(on_like, [ids_state, lang_state], [reason, thanks, pending], api_visibility="private", queue=False)
        reason.change(on_reason, [reason, pending, lang_state], [reason, thanks, pending], api_visibility="private",
                      queue=False)
        reset.click(lambda: ("", [], {}, "", gr.update(visible=False), gr.update(visible=False)), None,
                    [box, chat, ids_state, announce, reason, thanks], api_visibility="private")
    return demo
