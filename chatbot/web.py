"""The web app: FastAPI with the REST API, health and metrics, and the Gradio chat page mounted at `/`.
This is the error boundary of the web: patients and integrators get a clear message, never a stack trace."""

from __future__ import annotations

import logging
import os
import threading
from typing import Iterator

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from chatbot.admission import Admission
from chatbot.api import install_api
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.pipeline import Pipeline, safe_error_reply
from chatbot.types import Delta, Done, Query, Reply
from chatbot.ui import build_ui

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

    def __init__(self, pipeline: Pipeline, metrics: Metrics, settings: Settings | None = None):
        self.pipeline, self.metrics = pipeline, metrics
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
                    self.metrics.observe(event.reply, channel)
                yield event
        except Exception as error:  # unexpected: a safe reply, the class name in the log, never the text
            self.metrics.errors.inc()
            log.error("unexpected %s while answering", error.__class__.__name__)
            if os.environ.get("CHATBOT_RAISE_ERRORS"):
                raise
            reply = safe_error_reply(query, self.pipeline.settings)
            yield Delta(reply.text)
            yield Done(reply)


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None, warm: bool = True) -> FastAPI:
    settings = settings or Settings.load()
    pipeline = pipeline or Pipeline(settings)
    metrics = Metrics()
    service = ChatService(pipeline, metrics, settings)
    app = FastAPI(title="Patient-education chatbot", version="1", docs_url="/api/docs", redoc_url=None)
    app.state.service = service

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

    demo = build_ui(service, settings)
    # the bounded queue is ChatService.admission, which can tell a patient "busy" in words; Gradio's own queue
    # only has to hold those who are waiting there
    demo.queue(default_concurrency_limit=settings.concurrency + settings.queue_size, max_size=settings.queue_size)
    app = gr.mount_gradio_app(app, demo, path="/", show_error=False, footer_links=[],
                              theme=THEME, css=_CSS)
    if warm:
        threading.Thread(target=service.warm_up, name="warm-up", daemon=True).start()
    else:
        service.ready.set()
    return app


# system fonts only: the page loads nothing from other origins
THEME = gr.themes.Soft(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"], font_mono=["ui-monospace", "monospace"])
_CSS = """
.notice {border-left: 4px solid #b45309; padding: 0.5em 0.9em; background: #fffbeb; color: #1f2937;}
.sources a {text-decoration: underline;}
"""
