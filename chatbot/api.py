"""The REST API for portals: `POST /api/v1/chat`, JSON in and out or streamed as server-sent events.

The body is read (at most `max_request_bytes`) and checked by `records.query_from_json`, so clear 400 messages stay
the same for the API and the batch CLI; the pydantic models below describe the same shapes for `/openapi.json`.
Keys: when `api_keys` is set, every request names its integrator's key (`Authorization: Bearer KEY` or
`X-API-Key: KEY`); the integrator's name, never the key, goes into the metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from chatbot import messages
from chatbot.admission import Ticket
from chatbot.config import Settings
from chatbot.errors import BadInputError
from chatbot.language import reply_language
from chatbot.records import query_from_json, reply_record
from chatbot.types import Delta, Done, Query

if TYPE_CHECKING:
    from chatbot.web import ChatService

RETRY_AFTER_S = 5


# ------------------------------------------------------------------------------------------ the documented shapes
class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    question: str = Field(description="The patient's message.", examples=["How can I lower my blood pressure?"])
    history: list[HistoryTurn] | None = Field(None, description="Earlier turns, oldest first (the last 20 are read).")
    lang: str | None = Field(None, min_length=2, max_length=8, description="The patient's language, e.g. \"es\".")


class CitationRecord(BaseModel):
    doc_id: str
    title: str
    url: str
    score: float


class Timings(BaseModel):
    screen: float
    retrieve: float
    first_sentence: float
    total: float


class ChatRecord(BaseModel):
    """The same record as a line of `chatbot ask --batch` output."""

    id: Any = None
    question: str
    answer: str
    language: str
    route: Literal["answer", "no_answer", "fallback", "urgent", "emergency", "crisis", "refuse"]
    flags: list[str]
    citations: list[CitationRecord]
    timings_ms: Timings


class ErrorBody(BaseModel):
    error: str
    retry_after_s: int | None = None


STREAM_DOC = ("With `Accept: text/event-stream`: one `data: {\"text\": ...}` event per verified sentence as it is "
              "ready, then `event: done` whose data is the full record.")
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ChatRecord, "description": "The answer. " + STREAM_DOC,
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    400: {"model": ErrorBody, "description": "The body is not the JSON described here."},
    401: {"model": ErrorBody, "description": "API keys are configured and none, or a wrong one, was sent."},
    413: {"model": ErrorBody, "description": "The body is larger than the limit."},
    415: {"model": ErrorBody, "description": "The body is not sent as application/json."},
    503: {"model": ErrorBody, "description": "Busy: try again after `Retry-After` seconds (the same text as the "
                                             "chat page shows, in the patient's language)."},
}


# ------------------------------------------------------------------------------------------------------ keys
def integrator_for(headers: Any, keys: dict[str, str]) -> str | None:
    """The integrator whose key the request carries, "-" when no keys are configured, None when it has none."""
    if not keys:
        return "-"
    sent = headers.get("x-api-key", "")
    auth = headers.get("authorization", "")
    if not sent and auth[:7].lower() == "bearer ":
        sent = auth[7:].strip()
    if not sent:
        return None
    for name, expected in keys.items():
        if _matches(sent, expected):
            return name
    return None


def _matches(sent: str, expected: str) -> bool:
    """`expected` is the key itself, or `sha256:<hex>` of it (so the settings file need not hold the key)."""
    if expected.startswith("sha256:"):
        digest = hashlib.sha256(sent.encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, expected[7:].strip().lower())
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


# ------------------------------------------------------------------------------------------------ the route
def install_api(app: FastAPI, service: "ChatService", settings: Settings) -> None:
    limit = settings.max_request_bytes

    def error(status: int, text: str, integrator: str, headers: dict[str, str] | None = None,
              **extra: Any) -> JSONResponse:
        service.metrics.api_requests.labels(integrator, str(status)).inc()
        return JSONResponse({"error": text, **extra}, status_code=status, headers=headers)

    @app.post("/api/v1/chat", responses=RESPONSES, response_model=None, tags=["chat"],
              summary="Answer a patient's question",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}}})
    async def chat(request: Request):
        integrator = integrator_for(request.headers, settings.api_keys)
        if integrator is None:
            return error(401, "A valid API key is required: send it as `Authorization: Bearer KEY` or "
                              "`X-API-Key: KEY`.", "unknown", {"WWW-Authenticate": "Bearer"})
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            return error(415, "Send the body as JSON (Content-Type: application/json).", integrator)
        body = await _read_limited(request, limit)
        if body is None:
            return error(413, f"The request is larger than {limit} bytes.", integrator)
        try:
            query = query_from_json(json.loads(body or b"null"), settings.max_question_chars * 10)
        except (ValueError, UnicodeDecodeError):
            return error(400, "The body must be JSON: {\"question\": \"...\"}.", integrator)
        except BadInputError as bad:
            return error(400, str(bad), integrator)
        ticket = service.admission.try_enter()
        if ticket is None or not await ticket.start_async(settings.queue_wait_s):
            busy = messages.message("busy", _language(query, settings), settings)
            return error(503, busy, integrator, {"Retry-After": str(RETRY_AFTER_S)}, retry_after_s=RETRY_AFTER_S)
        service.metrics.api_requests.labels(integrator, "200").inc()
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(_sse_leaving(service.stream(query, "api"), ticket),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-store"})
        try:  # the pipeline is synchronous: in the thread pool, so that other requests are not held behind it
            reply = await run_in_threadpool(lambda: next(e.reply for e in service.stream(query, "api")
                                                         if isinstance(e, Done)))
        finally:
            ticket.leave()
        return JSONResponse(reply_record(reply))

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="Patient education from a clinic's reviewed guidance.")
            _, extra = models_json_schema([(ChatRequest, "validation")], ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(extra.get("$defs", {}))
            if settings.api_keys:
                schema["components"]["securitySchemes"] = {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
                schema["paths"]["/api/v1/chat"]["post"]["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over `limit` (by Content-Length or while it streams in)."""
    try:
        if int(request.headers.get("content-length", "0")) > limit:
            return None
    except ValueError:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _language(query: Query, settings: Settings) -> str:
    return reply_language(query.text[:500], [], query.locale, settings.default_language)


async def _sse_leaving(events: Iterator[Delta | Done], ticket: Ticket) -> AsyncIterator[str]:
    """The events as server-sent events; the place in the queue is given back however the stream ends."""
    try:
        async for event in iterate_in_threadpool(events):
            yield sse_event(event)
    finally:
        ticket.leave()
        try:
            events.close()  # type: ignore[attr-defined]
        except (ValueError, AttributeError):  # still running on a worker thread: it ends with the pipeline
            pass


def sse_event(event: Delta | Done) -> str:
    if isinstance(event, Delta):
        return f"data: {json.dumps({'text': event.text}, ensure_ascii=False)}\n\n"
    return f"event: done\ndata: {json.dumps(reply_record(event.reply), ensure_ascii=False)}\n\n"
