"""Per-client rate limits and request-size limits, applied before any model work.

`ClientLimiter` counts hits per client in a moving window (the `limits` library, in memory: one process).
`GuardMiddleware` is a plain ASGI middleware, so streamed answers pass through untouched: it refuses a request
whose body is larger than `max_body_bytes` (413) and a client over its limit (429, a friendly JSON message and
`Retry-After`). The page's questions are limited in the page itself (ui.py), so the patient reads the message in the
chat instead of a broken page.

A client is the socket's address; behind a proxy you run, set `trusted_proxy_header` (e.g. X-Forwarded-For) and the
last address in it (the one your proxy saw) is used. The header is never trusted unless configured, since a
client could otherwise pick a fresh identity for every request.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Mapping

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from chatbot import messages
from chatbot.config import Settings
from chatbot.errors import ConfigError

KINDS = ("api", "page", "requests")
API_PREFIX = "/api/v1/"


class ClientLimiter:
    def __init__(self, settings: Settings):
        try:
            self.limits = {kind: parse_many(getattr(settings, f"rate_limit_{kind}")) for kind in KINDS}
        except ValueError as error:
            raise ConfigError(f"A rate_limit setting is not a limit such as \"30/minute\": {error}") from None
        self.header = settings.trusted_proxy_header.strip().lower()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def client_id(self, headers: Mapping[str, str], peer: str | None) -> str:
        """The client's address: the trusted proxy header's last entry when configured, else the socket's peer."""
        if self.header:
            forwarded = [part.strip() for part in headers.get(self.header, "").split(",") if part.strip()]
            if forwarded:
                return forwarded[-1]
        return peer or "unknown"

    def allow(self, kind: str, client: str) -> bool:
        """Count one hit of `kind` for `client`; False when any of its limits is exceeded."""
        allowed = True
        for item in self.limits[kind]:
            allowed = self._limiter.hit(item, kind, client) and allowed
        return allowed

    def retry_after_s(self, kind: str) -> int:
        return min(item.get_expiry() for item in self.limits[kind])


class GuardMiddleware:
    """Request size and rate limits for every HTTP request, before it reaches the API or the Gradio app."""

    def __init__(self, app: Callable, limiter: ClientLimiter, settings: Settings, max_body_bytes: int):
        self.app, self.limiter, self.settings, self.max_body_bytes = app, limiter, settings, max_body_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        length = headers.get("content-length", "")
        if (length.isdigit() and int(length) > self.max_body_bytes) or (
                not length and "chunked" in headers.get("transfer-encoding", "")):
            body = {"error": f"The request is larger than {self.max_body_bytes} bytes."}
            return await _respond(send, 413, body)
        peer = scope.get("client")
        client = self.limiter.client_id(headers, peer[0] if peer else None)
        kinds = ["requests"]
        if scope["path"].startswith(API_PREFIX) and scope.get("method") == "POST":
            kinds.append("api")
        for kind in kinds:
            if not self.limiter.allow(kind, client):
                text = messages.message("rate_limited", self.settings.default_language, self.settings)
                return await _respond(send, 429, {"error": text}, self.limiter.retry_after_s(kind))
        await self.app(scope, receive, send)


async def _respond(send: Callable[[dict], Awaitable[Any]], status: int, body: dict, retry_after: int = 0) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(data)).encode())]
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
