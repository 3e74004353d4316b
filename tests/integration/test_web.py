"""The real web app over HTTP: health, the chat API (JSON and streamed), metrics, and bad input."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from chatbot import messages
from chatbot.types import ROUTES

pytestmark = pytest.mark.slow

RECORD_KEYS = {"id", "question", "answer", "language", "route", "flags", "citations", "timings_ms"}
TIMING_KEYS = {"screen", "retrieve", "first_sentence", "total"}
QUESTION = "How can I lower my blood pressure?"


def test_health_is_ok_after_warm_up(http: httpx.Client):
    deadline = time.monotonic() + 60
    while True:
        response = http.get("/healthz")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok", body
    assert body["index"]["chunk_count"] > 0


def test_chat_returns_the_documented_record(http: httpx.Client):
    response = http.post("/api/v1/chat", json={"question": QUESTION})
    assert response.status_code == 200
    record = response.json()
    assert set(record) >= RECORD_KEYS
    assert set(record["timings_ms"]) >= TIMING_KEYS
    assert record["question"] == QUESTION
    assert record["language"] == "en"
    assert record["route"] in ("answer", "fallback")
    assert record["answer"].strip()
    assert "high-blood-pressure" in {c["doc_id"] for c in record["citations"]}
    for citation in record["citations"]:
        assert set(citation) == {"doc_id", "title", "url", "score"}
        assert citation["url"].startswith("https://")
    timings = record["timings_ms"]
    assert 0 <= timings["screen"] <= timings["retrieve"] <= timings["first_sentence"] <= timings["total"]


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """(event name, JSON data) per server-sent event; unnamed events are 'message'."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def test_chat_streams_sentences_then_a_done_event(http: httpx.Client):
    with http.stream("POST", "/api/v1/chat", json={"question": "Do I need antibiotics for a cold?"},
                     headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode("utf-8")
    events = parse_sse(body)
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1, names
    deltas = [data["text"] for name, data in events if name == "message"]
    assert deltas, "no sentence was streamed before the final event"
    done = events[-1][1]
    assert done["route"] in ("answer", "fallback")
    assert {c["doc_id"] for c in done["citations"]} & {"antibiotics", "common-cold"}
    assert "".join(deltas) == done["answer"], "the streamed sentences are not the final answer"


@pytest.mark.parametrize("body", [b"not json", b'{"question": 5}', b'["a list"]', b'{"history": []}',
                                  b'{"question": "hi", "history": [{"role": "doctor", "content": "x"}]}'])
def test_a_bad_body_gets_400_with_a_message(http: httpx.Client, body: bytes):
    response = http.post("/api/v1/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert isinstance(error, str) and len(error) > 10


def test_metrics_count_replies(http: httpx.Client):
    http.post("/api/v1/chat", json={"question": "I have crushing chest pain"}).raise_for_status()
    response = http.get("/metrics")
    assert response.status_code == 200
    assert 'chatbot_replies_total{channel="api",route="emergency"}' in response.text


# (question, the input problem the reply must name, or None when the pipeline answers it normally)
BAD_INPUT = [
    pytest.param("", "empty", id="empty"),
    pytest.param(("my blood pressure " * 1112)[:20_000], "too_long", id="20000 characters"),
    pytest.param("What helps\x00 a fever?\x07\x1b[31m\x7f", None, id="control characters"),
    pytest.param("\U0001f912\U0001f912\U0001f48a\u2764\ufe0f", "no_text", id="only emoji"),
    pytest.param("hola 你好 привет مرحبا नमस्ते", None, id="a different script each word"),
]


@pytest.mark.parametrize(("question", "problem"), BAD_INPUT)
def test_bad_input_gets_a_clear_answer(http: httpx.Client, real_settings, question: str, problem: str | None):
    response = http.post("/api/v1/chat", json={"question": question})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["route"] in ROUTES
    assert len(record["answer"].strip()) > 20, record
    assert "internal_error" not in record["flags"]
    if problem:
        assert record["route"] == "no_answer"
        assert f"input_{problem}" in record["flags"]
        assert record["answer"] == messages.message(problem, record["language"], real_settings)


def test_the_server_still_answers_after_bad_input(http: httpx.Client):
    for question in ("", "\x00" * 50, "🤒" * 500):
        http.post("/api/v1/chat", json={"question": question})
    response = http.post("/api/v1/chat", json={"question": "What helps a fever?"})
    assert response.status_code == 200
    record = response.json()
    assert record["route"] in ("answer", "fallback")
    assert "fever" in {c["doc_id"] for c in record["citations"]}


def hold_generator(generator, monkeypatch, at_most_s: float) -> tuple[threading.Event, threading.Event]:
    """Make the generator hold each answer until `release` is set (at most `at_most_s`); `entered` is set once an
    answer is held."""
    entered, release = threading.Event(), threading.Event()
    original = generator.stream

    def held_stream(prompt):
        entered.set()
        release.wait(at_most_s)
        yield from original(prompt)

    monkeypatch.setattr(generator, "stream", held_stream)
    return entered, release


def test_a_json_answer_does_not_block_other_requests(http: httpx.Client, real_pipeline, monkeypatch):
    # the answer is held inside the generator until the test has measured /healthz
    entered, release = hold_generator(real_pipeline.generator, monkeypatch, at_most_s=5)
    answer = threading.Thread(target=http.post, args=("/api/v1/chat",), kwargs={"json": {"question": QUESTION}})
    answer.start()
    try:
        assert entered.wait(30), "the answer never reached the generator"
        started = time.monotonic()
        assert http.get("/healthz", timeout=30).status_code == 200
        waited = time.monotonic() - started
    finally:
        release.set()
        answer.join(60)
    assert waited < 1.0, f"/healthz waited {waited:.1f}s for another request's answer"


def test_a_full_queue_gets_a_friendly_busy_answer_over_http(real_settings, real_pipeline, monkeypatch):
    """A second real server with room for one answer and nobody waiting: while one patient's answer is being
    written, the next request gets 503, Retry-After and the busy text in its language, never an error page."""
    from chatbot.web import create_app

    from .conftest import serving

    settings = real_settings.replace(concurrency=1, queue_size=0, queue_wait_s=1)
    entered, release = hold_generator(real_pipeline.generator, monkeypatch, at_most_s=30)
    first: dict = {}
    with serving(create_app(settings, real_pipeline, warm=False)) as base:
        try:
            holder = threading.Thread(target=lambda: first.update(
                response=httpx.post(f"{base}/api/v1/chat", json={"question": QUESTION}, timeout=120)))
            holder.start()
            assert entered.wait(60), "the first answer never reached the generator"
            busy = httpx.post(f"{base}/api/v1/chat", json={"question": "¿Qué ayuda con la fiebre?"}, timeout=30)
            release.set()
            holder.join(120)
            after = httpx.post(f"{base}/api/v1/chat", json={"question": "I have crushing chest pain"}, timeout=120)
        finally:
            release.set()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "5"
    assert busy.headers["content-type"].startswith("application/json")
    assert busy.json()["error"] == messages.message("busy", "es", settings)
    assert first["response"].status_code == 200, "the patient already being answered was not disturbed"
    assert after.status_code == 200, "the place was not given back"
