"""The portal API on the app itself (FastAPI's test client, a fake generator): keys, limits, the busy answer,
and the OpenAPI schema. The real server over HTTP is tested in tests/integration/test_web.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from chatbot import messages
from chatbot.api import integrator_for
from chatbot.web import create_app

QUESTION = "What helps a fever?"


@pytest.fixture
def client_for(make_pipeline, scripted):
    def build(**changes) -> TestClient:
        pipeline = make_pipeline(generator=scripted("Rest and drink fluids."), semantic_screening=False, **changes)
        return TestClient(create_app(pipeline.settings, pipeline, warm=False))
    return build


def test_without_keys_configured_anyone_gets_an_answer(client_for) -> None:
    response = client_for().post("/api/v1/chat", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.json()["question"] == QUESTION


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic a2V5"}])
def test_with_keys_configured_no_key_or_a_wrong_key_gets_401_and_no_answer(client_for, headers) -> None:
    client = client_for(api_keys={"portal-a": "key-a-123"})
    response = client.post("/api/v1/chat", json={"question": QUESTION}, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error"} and "API key" in body["error"]
    assert "answer" not in response.text


@pytest.mark.parametrize("headers", [{"X-API-Key": "key-b-456"}, {"Authorization": "Bearer key-b-456"}])
def test_a_right_key_gets_the_answer_and_the_integrator_is_counted_not_the_key(client_for, headers) -> None:
    digest = hashlib.sha256(b"key-b-456").hexdigest()
    client = client_for(api_keys={"portal-a": "key-a-123", "portal-b": f"sha256:{digest}"})
    response = client.post("/api/v1/chat", json={"question": QUESTION}, headers=headers)
    assert response.status_code == 200, response.text
    metrics = client.get("/metrics").text
    assert 'chatbot_api_requests_total{integrator="portal-b",status="200"} 1.0' in metrics
    assert "key-b-456" not in metrics and digest not in metrics


def test_integrator_lookup() -> None:
    keys = {"a": "k1"}
    assert integrator_for({}, {}) == "-"
    assert integrator_for({"x-api-key": "k1"}, keys) == "a"
    assert integrator_for({"authorization": "bearer k1"}, keys) == "a"
    assert integrator_for({"x-api-key": "k1 "}, keys) is None
    assert integrator_for({"authorization": "Bearer "}, keys) is None


def test_a_body_over_the_limit_gets_413_before_it_is_parsed(client_for) -> None:
    client = client_for(max_request_bytes=1000)
    big = json.dumps({"question": "a" * 2000})
    response = client.post("/api/v1/chat", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "1000 bytes" in response.json()["error"]

    def chunks():  # no Content-Length: the limit is kept while the body streams in
        for _ in range(10):
            yield b'{"question": "' + b"a" * 300
    streamed = client.post("/api/v1/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_a_body_that_is_not_json_gets_415(client_for) -> None:
    response = client_for().post("/api/v1/chat", content=b"question=hi", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_bad_json_gets_400_with_the_batch_messages(client_for) -> None:
    client = client_for()
    response = client.post("/api/v1/chat", json={"question": 5})
    assert response.status_code == 400
    assert response.json() == {"error": "The \"question\" field is required and must be text."}


def test_a_full_queue_answers_503_busy_with_retry_after_in_the_patients_language(client_for) -> None:
    client = client_for(concurrency=1, queue_size=0, queue_wait_s=0.2)
    service = client.app.state.service
    holder = service.admission.try_enter()
    assert holder.start(0)
    try:
        response = client.post("/api/v1/chat", json={"question": "¿Qué ayuda con la fiebre?", "lang": "es"})
    finally:
        holder.leave()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == messages.message("busy", "es", service.pipeline.settings)
    assert client.post("/api/v1/chat", json={"question": QUESTION}).status_code == 200


def test_a_caller_waiting_longer_than_the_limit_gets_503(client_for) -> None:
    client = client_for(concurrency=1, queue_size=4, queue_wait_s=0.2)
    holder = client.app.state.service.admission.try_enter()
    holder.start(0)
    try:
        response = client.post("/api/v1/chat", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
    finally:
        holder.leave()
    assert response.status_code == 503
    assert client.app.state.service.admission.counts == (0, 0)


def test_a_streamed_answer_gives_its_place_back(client_for) -> None:
    client = client_for(concurrency=1, queue_size=0)
    for _ in range(3):
        response = client.post("/api/v1/chat", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
        assert response.status_code == 200 and "event: done" in response.text
    assert client.app.state.service.admission.counts == (0, 0)


def test_the_openapi_schema_describes_the_chat_endpoint(client_for) -> None:
    schema = client_for(api_keys={"p": "k"}).get("/openapi.json").json()
    post = schema["paths"]["/api/v1/chat"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatRequest"}
    request = schema["components"]["schemas"]["ChatRequest"]
    assert request["required"] == ["question"] and set(request["properties"]) == {"question", "history", "lang"}
    assert "HistoryTurn" in schema["components"]["schemas"]
    ok = post["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatRecord"}
    assert "text/event-stream" in ok
    record = schema["components"]["schemas"]["ChatRecord"]
    assert set(record["properties"]) == {"id", "question", "answer", "language", "route", "flags", "citations",
                                         "timings_ms"}
    assert {"400", "401", "413", "415", "503"} <= set(post["responses"])
    assert post["security"] == [{"bearer": []}, {"apiKey": []}]


def test_health_names_the_backend_and_shows_degraded_after_failures(client_for) -> None:
    client = client_for()
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["generator"]["status"] == "ok"
    client.app.state.service.pipeline.health.failure(RuntimeError("The model server failed: ReadTimeout."))
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["generator"]["name"] == getattr(client.app.state.service.pipeline.generator, "name", "?")
    assert body["generator"]["failures"] == 1 and "ReadTimeout" in body["generator"]["last_error"]
