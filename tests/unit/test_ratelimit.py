"""Per-client limits: a client over its limit is refused, another is not; the proxy header only when trusted."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chatbot.config import Settings
from chatbot.errors import ConfigError
from chatbot.ratelimit import ClientLimiter, GuardMiddleware


def limiter(**changes) -> ClientLimiter:
    return ClientLimiter(Settings().replace(**changes))


def test_a_client_over_its_limit_is_refused_and_another_is_not() -> None:
    limits = limiter(rate_limit_api="3/minute")
    assert [limits.allow("api", "a") for _ in range(5)] == [True, True, True, False, False]
    assert limits.allow("api", "b")


def test_every_limit_in_a_list_counts() -> None:
    limits = limiter(rate_limit_page="100/minute;2/hour")
    assert [limits.allow("page", "a") for _ in range(3)] == [True, True, False]


def test_the_proxy_header_is_used_only_when_trusted() -> None:
    headers = {"x-forwarded-for": "198.51.100.7, 10.0.0.2"}
    assert limiter().client_id(headers, "127.0.0.1") == "127.0.0.1"
    assert limiter(trusted_proxy_header="X-Forwarded-For").client_id(headers, "127.0.0.1") == "10.0.0.2"
    assert limiter(trusted_proxy_header="X-Forwarded-For").client_id({}, "127.0.0.1") == "127.0.0.1"


def test_a_bad_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        limiter(rate_limit_api="lots")


def guarded(**changes) -> TestClient:
    settings = Settings().replace(trusted_proxy_header="X-Forwarded-For", **changes)
    app = FastAPI()

    @app.post("/api/v1/chat")
    def chat() -> dict:
        return {"answer": "ok"}

    app.add_middleware(GuardMiddleware, limiter=ClientLimiter(settings), settings=settings, max_body_bytes=100)
    return TestClient(app)


def test_the_middleware_answers_429_with_a_friendly_message() -> None:
    client = guarded(rate_limit_api="2/minute")
    codes = [client.post("/api/v1/chat", headers={"X-Forwarded-For": "10.0.0.1"}).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    refused = client.post("/api/v1/chat", headers={"X-Forwarded-For": "10.0.0.1"})
    assert "wait a minute" in refused.json()["error"] and int(refused.headers["retry-after"]) > 0
    assert client.post("/api/v1/chat", headers={"X-Forwarded-For": "10.0.0.9"}).status_code == 200


def test_the_middleware_refuses_a_large_body_before_the_app() -> None:
    response = guarded().post("/api/v1/chat", content=b"x" * 101)
    assert response.status_code == 413 and "larger than 100 bytes" in response.json()["error"]
