"""The web app: FastAPI with the REST API, health and metrics, and the Gradio chat page mounted at `/`.
This is the error boundary of the web: patients and integrators get a clear message, never a stack trace."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import uuid
from typing import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: it reads this then

import gradio as gr  # noqa: E402
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from chatbot.admission import Admission
from chatbot.api import install_api
from chatbot.audit import FEEDBACK_REASONS, AuditStore, FeedbackRecord, answer_record, utcnow, valid_reply_id
from chatbot.config import Settings
from chatbot.console import console_router
from chatbot.embed import embed_js, install_origin_policy
from chatbot.errors import ChatbotError
from chatbot.pipeline import Pipeline, safe_error_reply
from chatbot.privacy import scrub
from chatbot.ratelimit import ClientLimiter, GuardMiddleware
from chatbot.types import Delta, Done, Query, Reply
from chatbot.ui import A11Y_JS, SR_ONLY_CSS, build_ui

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.replies = Counter("chatbot_replies", "Replies by route", ["route", "channel"], registry=self.registry)
        self.total = Histogram("chatbot_reply_seconds", "Time to the complete reply", registry=self.registry,
                               buckets=(0.05, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60))
        self.first = Histogram("chatbot_first_sentence_seconds", "Time to the first shown sentence",
                               registry=self.registry, buckets=(0.05, 0.25, 0.5, 1, 1.5, 2, 3, 6, 12, 30))
        self.errors = Counter("chatbot_errors", "Unexpected errors at the boundary", registry=self.registry)
        self.api_requests = Counter("chatbot_api_requests", "API requests by integrator and HTTP status",
                                    ["integrator", "status"], registry=self.registry)
        self.busy = Counter("chatbot_busy", "Patients told the service is busy", ["channel"], registry=self.registry)

    def observe(self, reply: Reply, channel: str) -> None:
        self.replies.labels(reply.route, channel).inc()
        self.total.observe(reply.timings_ms.get("total", 0) / 1000)
        self.first.observe(reply.timings_ms.get("first_sentence", 0) / 1000)


class ChatService:
    """The pipeline behind the error boundary, shared by the page and the API."""

    def __init__(self, pipeline: Pipeline, metrics: Metrics, audit: AuditStore | None = None,
                 settings: Settings | None = None):
        self.pipeline, self.metrics, self.audit = pipeline, metrics, audit
        settings = settings or pipeline.settings
        self.admission = Admission(settings.concurrency, settings.queue_size)
        self.ready = threading.Event()
        self.startup_error: str | None = None

    def warm_up(self) -> None:
        try:
            self.pipeline.warm_up()
        except ChatbotError as error:
            self.startup_error = str(error)
            log.error("startup: %s", error)
        finally:
            self.ready.set()

    def stream(self, query: Query, channel: str) -> Iterator[Delta | Done]:
        try:
            for event in self.pipeline.stream(query):
                if isinstance(event, Done):
                    event = Done(self._audited(event.reply, channel))
                    self.metrics.observe(event.reply, channel)
                    if self.pipeline.settings.log_text:  # kept only on request, and never with identifiers
                        log.info("text question=%r reply=%r", scrub(event.reply.question), scrub(event.reply.text))
                yield event
        except Exception as error:  # unexpected: a safe reply, the class name in the log, never the text
            self.metrics.errors.inc()
            log.error("unexpected %s while answering", error.__class__.__name__)
            if os.environ.get("CHATBOT_RAISE_ERRORS"):
                raise
            reply = self._audited(safe_error_reply(query, self.pipeline.settings), channel)
            yield Delta(reply.text)
            yield Done(reply)

    def _audited(self, reply: Reply, channel: str) -> Reply:
        """The reply with its id, recorded in the audit trail (no message text)."""
        reply = dataclasses.replace(reply, reply_id=uuid.uuid4().hex)
        if self.audit is not None:
            info = self.pipeline.index_info
            self.audit.submit(answer_record(reply, channel, self.backend, info.version if info else ""))
        return reply

    @property
    def backend(self) -> str:
        try:
            return getattr(self.pipeline.generator, "name", self.pipeline.settings.generator)
        except ChatbotError:
            return self.pipeline.settings.generator

    def feedback(self, reply_id: str, helpful: bool, reason: str | None = None) -> None:
        if self.audit is not None and valid_reply_id(reply_id):
            self.audit.submit(FeedbackRecord(reply_id, utcnow(), helpful, reason))


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None, warm: bool = True,
               audit: AuditStore | None = None) -> FastAPI:
    settings = settings or Settings.load()
    pipeline = pipeline or Pipeline(settings)
    metrics = Metrics()
    audit = audit or AuditStore.from_settings(settings)
    audit.start()
    service = ChatService(pipeline, metrics, audit, settings)
    app = FastAPI(title="Patient-education chatbot", version="1", docs_url="/api/docs", redoc_url=None)
    app.state.service = service
    app.router.on_shutdown.append(audit.close)
    limiter = ClientLimiter(settings)
    # limits first and CORS after it, so CORS is the outer layer and a 429 or 413 still carries its headers
    app.add_middleware(GuardMiddleware, limiter=limiter, settings=settings, max_body_bytes=settings.max_request_bytes)
    install_origin_policy(app, settings)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        if not service.ready.is_set():
            return JSONResponse({"status": "starting"}, status_code=503)
        info = pipeline.index_info
        generator = pipeline.health.report(pipeline.generator) if not service.startup_error else None
        degraded = service.startup_error or generator["status"] != "ok"
        body = {"status": "degraded" if degraded else "ok", "generator": generator,
                "generator_failures": pipeline.generator_failures, "error": service.startup_error,
                "index": info.__dict__ if info else None}
        return JSONResponse(body)

    @app.get("/metrics")
    def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    install_api(app, service, settings)

    @app.post("/api/v1/feedback", status_code=202)
    async def feedback(request: Request):
        try:
            data = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or not valid_reply_id(data.get("reply_id")) \
                or not isinstance(data.get("helpful"), bool) or data.get("reason") not in (None, *FEEDBACK_REASONS):
            return JSONResponse({"error": "The body must be {\"reply_id\": (from the chat reply), \"helpful\": true "
                                          f"or false, \"reason\"?: one of {', '.join(FEEDBACK_REASONS)}}}."},
                                status_code=400)
        service.feedback(data["reply_id"], data["helpful"], data.get("reason"))
        return JSONResponse({"status": "accepted"}, status_code=202)

    app.include_router(console_router(service, settings))
    for path, embed in (("/embed", True), ("/", False)):  # /embed first: the page at / would take every path
        demo = build_ui(service, settings, embed=embed, limiter=limiter)
        # the bounded queue is ChatService.admission, which can tell a patient "busy" in words; Gradio's own
        # queue only has to hold those who are waiting there
        demo.queue(default_concurrency_limit=settings.concurrency + settings.queue_size, max_size=settings.queue_size)
        js = "() => { (%s)(); (%s)(); }" % (A11Y_JS, embed_js(settings)) if embed else A11Y_JS
        app = gr.mount_gradio_app(app, demo, path=path, show_error=False, footer_links=[], theme=THEME,
                                  css=_CSS + SR_ONLY_CSS + (_EMBED_CSS if embed else ""), js=js)
    if warm:
        threading.Thread(target=service.warm_up, name="warm-up", daemon=True).start()
    else:
        service.ready.set()
    return app


# system fonts only: the page loads nothing from other origins
THEME = gr.themes.Soft(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"], font_mono=["ui-monospace", "monospace"])
_CSS = """
:root {--notice-fg: #1f2937; --notice-bg: #fffbeb; --label-fg: #312e81;}
.dark {--notice-fg: #fef3c7; --notice-bg: #451a03; --label-fg: #e0e7ff;}
.notice {border-left: 4px solid #b45309; padding: 0.5em 0.9em; background: var(--notice-bg);}
.notice, .notice p {color: var(--notice-fg) !important;}
.sources a {text-decoration: underline;}
#send, #send:hover {background: var(--brand-bg, #3730a3); color: var(--brand-text, #ffffff);
                    border-color: var(--brand-bg, #3730a3);}
.block-label, .float {color: var(--label-fg) !important;}
#title h1 {font-size: 1.6em; margin: 0.2em 0;}
"""
_EMBED_CSS = """
.gradio-container {padding: 4px !important; max-width: 100% !important;}
footer {display: none !important;}
"""
