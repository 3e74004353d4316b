"""Generation backends: the OpenAI-compatible client against a mock server, the local backend's checks, and the
contract every backend keeps."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from chatbot import generation
from chatbot.config import Settings
from chatbot.errors import ConfigError, GenerationError, ModelMissingError
from chatbot.generation import MODEL_META, LocalGenerator, OpenAIGenerator, chat_messages, make_generator
from chatbot.types import Prompt, Turn

PROMPT = Prompt(system="You are a clinic's assistant.", messages=(Turn("user", "DATA ... Patient's question: q"),))
BASE = "http://gpu-host:8000/v1"


def sse(*pieces: str, done: bool = True, extra: str = "") -> bytes:
    events = [f"data: {json.dumps({'choices': [{'delta': {'content': p}}]})}\n\n" for p in pieces]
    return ("".join(events) + extra + ("data: [DONE]\n\n" if done else "")).encode()


class Server:
    """A scripted OpenAI-compatible server: each request gets the next response (or raises the next error)."""

    def __init__(self, *responses: httpx.Response | Exception | Callable[[], httpx.Response]):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(response, Exception):
            raise response
        return response() if callable(response) else response

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


class BreaksMidway(httpx.SyncByteStream):
    """Sends some events, then the connection drops."""

    def __init__(self, first: bytes):
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        raise httpx.ReadError("connection reset")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(generation.time, "sleep", waits.append)
    return waits


def openai(server: Server, **kwargs) -> OpenAIGenerator:
    return OpenAIGenerator(BASE + "/", "served-model", client=server.client(), **kwargs)


# ------------------------------------------------------------------------------------------- OpenAI backend
def test_streams_the_content_of_each_event_in_order() -> None:
    body = (b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n' + b": keep-alive\n\n"
            + sse("Drink ", "plenty of ", "", "water.", done=True) + sse("after done"))
    server = Server(httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    assert list(openai(server).stream(PROMPT)) == ["Drink ", "plenty of ", "water."]


def test_sends_the_prompt_as_chat_messages_to_the_chat_completions_url() -> None:
    server = Server(httpx.Response(200, content=sse("ok")))
    assert openai(server, max_new_tokens=42).generate(PROMPT) == "ok"
    [request] = server.requests
    assert request.method == "POST"
    assert str(request.url) == BASE + "/chat/completions"
    body = json.loads(request.content)
    assert body["messages"] == [{"role": "system", "content": PROMPT.system},
                                {"role": "user", "content": PROMPT.messages[0].content}]
    assert body["messages"] == chat_messages(PROMPT)
    assert (body["model"], body["max_tokens"], body["temperature"], body["stream"]) == ("served-model", 42, 0, True)


def test_without_a_model_name_the_server_default_is_used() -> None:
    server = Server(httpx.Response(200, content=sse("ok")))
    OpenAIGenerator(BASE, "", client=server.client()).generate(PROMPT)
    assert "model" not in json.loads(server.requests[0].content)


def test_api_key_is_sent_as_a_bearer_token(monkeypatch) -> None:
    server = Server(httpx.Response(200, content=sse("ok")))
    real_client = httpx.Client
    monkeypatch.setattr(generation.httpx, "Client",
                        lambda **kw: real_client(transport=httpx.MockTransport(server), **kw))
    OpenAIGenerator(BASE, "m", api_key="s3cret", connect_timeout_s=1.5, read_timeout_s=7).generate(PROMPT)
    assert server.requests[0].headers["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("bad", [
    b"data: {not json\n\n",
    b'data: {"choices": []}\n\n',
    b'data: {"error": "overloaded"}\n\n',
    b'data: {"choices": [{"delta": "text"}]}\n\n',
])
def test_a_malformed_stream_is_a_generation_error(bad: bytes) -> None:
    server = Server(httpx.Response(200, content=bad + sse("never")))
    with pytest.raises(GenerationError):
        list(openai(server, retries=0).stream(PROMPT))


def test_http_500_is_retried_then_fails(no_backoff: list[float]) -> None:
    server = Server(httpx.Response(500, content=b"oops"))
    with pytest.raises(GenerationError):
        list(openai(server, retries=2).stream(PROMPT))
    assert len(server.requests) == 3
    assert len(no_backoff) == 2 and all(w > 0 for w in no_backoff)


def test_http_500_then_success_returns_the_answer() -> None:
    server = Server(httpx.Response(500), httpx.Response(200, content=sse("Rest ", "well.")))
    assert openai(server, retries=1).generate(PROMPT) == "Rest well."
    assert len(server.requests) == 2


def test_no_retries_means_one_attempt() -> None:
    server = Server(httpx.Response(503))
    with pytest.raises(GenerationError):
        openai(server, retries=0).generate(PROMPT)
    assert len(server.requests) == 1


def test_a_connect_error_is_retried() -> None:
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, content=sse("Rest ", "well.")))
    assert openai(server, retries=1).generate(PROMPT) == "Rest well."
    assert len(server.requests) == 2


def test_connect_errors_beyond_the_retries_are_a_generation_error() -> None:
    server = Server(httpx.ConnectError("refused"))
    with pytest.raises(GenerationError) as caught:
        openai(server, retries=1).generate(PROMPT)
    assert len(server.requests) == 2
    assert "refused" not in str(caught.value)  # the user-facing sentence names the kind of failure only


def test_a_read_timeout_is_a_generation_error() -> None:
    server = Server(httpx.ReadTimeout("slow"))
    with pytest.raises(GenerationError):
        openai(server, retries=0).generate(PROMPT)


def test_a_stream_that_breaks_after_text_is_not_retried() -> None:
    # retrying would repeat text the patient may already have seen
    server = Server(lambda: httpx.Response(200, stream=BreaksMidway(sse("Drink water. ", done=False))))
    seen: list[str] = []
    with pytest.raises(GenerationError):
        for piece in openai(server, retries=3).stream(PROMPT):
            seen.append(piece)
    assert seen == ["Drink water. "]
    assert len(server.requests) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"base_url": "gpu-host:8000/v1"}, "openai_base_url"),
    ({"retries": -1}, "openai_retries"),
])
def test_openai_settings_are_checked(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        OpenAIGenerator(**{"base_url": BASE, "model": "m", **kwargs})


# ------------------------------------------------------------------------------------------- local backend
def test_local_backend_is_cheap_to_build_and_says_how_to_prepare_a_missing_model(tmp_path: Path) -> None:
    generator = LocalGenerator(tmp_path / "no-model")  # no error yet: models load on first use
    assert generator.supports_prefill is True
    with pytest.raises(ModelMissingError, match="prepare") as caught:
        generator.warm_up()
    assert str(tmp_path / "no-model") in str(caught.value)
    with pytest.raises(ModelMissingError, match="prepare"):
        list(generator.stream(PROMPT))


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": "float8"}, "float8"),
    ({"dtype": "fp16"}, "fp16"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
])
def test_local_backend_rejects_bad_settings(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LocalGenerator(tmp_path, **kwargs)


def test_auto_dtype_uses_what_prepare_measured(tmp_path: Path) -> None:
    (tmp_path / MODEL_META).write_text(json.dumps({"cpu_dtype": "bfloat16"}))
    assert LocalGenerator(tmp_path)._resolved_dtype() == "bfloat16"
    assert LocalGenerator(tmp_path, dtype="float32")._resolved_dtype() == "float32"
    assert LocalGenerator(tmp_path / "unprepared")._resolved_dtype() == "float32"


# ------------------------------------------------------------------------------------------- choosing a backend
def test_one_setting_chooses_the_backend(tmp_path: Path) -> None:
    local = make_generator(Settings(generator="local", model=str(tmp_path / "m"), dtype="float32"))
    assert isinstance(local, LocalGenerator) and local.model_dir == tmp_path / "m"
    remote = make_generator(Settings(generator="openai", openai_base_url=BASE, openai_model="served"))
    assert isinstance(remote, OpenAIGenerator) and remote.name == "openai:served"
    assert remote.supports_prefill is False


def test_an_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="Unknown generator 'llamafile'.*local.*openai"):
        make_generator(Settings(generator="llamafile"))


# ------------------------------------------------------------------------------------------- the contract
ANSWER = "Drink plenty of water. Rest well."


def backends(name: str, scripted):
    if name == "openai":
        return openai(Server(httpx.Response(200, content=sse("Drink plenty", " of water.", " Rest well."))))
    return scripted(ANSWER)


@pytest.mark.parametrize("name", ["openai", "scripted-fake"])
def test_generator_contract(name: str, scripted) -> None:
    generator = backends(name, scripted)
    assert isinstance(generator.name, str) and generator.name
    assert isinstance(generator.supports_prefill, bool)
    pieces = list(generator.stream(PROMPT))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == ANSWER
    assert backends(name, scripted).generate(PROMPT) == ANSWER


# ------------------------------------------------------------------------ deadlines: slow, hung, garbage
class Trickle(httpx.SyncByteStream):
    """Sends `chunks`, waiting `gap` seconds before each (a slow or hung server)."""

    def __init__(self, chunks: list[bytes], gap: float):
        self.chunks, self.gap = chunks, gap

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            threading.Event().wait(self.gap)  # not time.sleep: the no_backoff fixture replaces it
            yield chunk


def timed(function) -> float:
    import time

    started = time.monotonic()
    function()
    return time.monotonic() - started


def test_a_server_that_never_sends_the_first_piece_fails_at_the_first_token_deadline() -> None:
    server = Server(lambda: httpx.Response(200, stream=Trickle([sse("late")], gap=5)))
    generator = openai(server, retries=0, first_token_s=0.3)
    assert timed(lambda: pytest.raises(GenerationError, generator.generate, PROMPT)) < 2


def test_a_server_that_stalls_mid_answer_fails_at_the_read_deadline() -> None:
    server = Server(lambda: httpx.Response(200, stream=Trickle([sse("Drink ", done=False), sse("water.")], gap=0.01)))
    assert openai(server).generate(PROMPT) == "Drink water."
    stalled = Server(lambda: httpx.Response(200, stream=StallAfterFirst(sse("Drink ", done=False), stall=5)))
    seen: list[str] = []

    def consume() -> None:
        with pytest.raises(GenerationError, match="next piece"):
            for piece in openai(stalled, read_timeout_s=0.3).stream(PROMPT):
                seen.append(piece)

    assert timed(consume) < 2
    assert seen == ["Drink "]


class StallAfterFirst(httpx.SyncByteStream):
    def __init__(self, first: bytes, stall: float):
        self.first, self.stall = first, stall

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        threading.Event().wait(self.stall)
        yield sse("too late")


def test_a_trickling_server_is_cut_at_the_total_deadline() -> None:
    chunks = [sse(f"word{i} ", done=False) for i in range(100)]
    server = Server(lambda: httpx.Response(200, stream=Trickle(chunks, gap=0.1)))
    seen: list[str] = []

    def consume() -> None:
        with pytest.raises(GenerationError, match="too slow"):
            for piece in openai(server, read_timeout_s=1, total_s=0.6).stream(PROMPT):
                seen.append(piece)

    assert timed(consume) < 2
    assert 1 <= len(seen) < 100


@pytest.mark.parametrize("garbage", [
    b"<html><body>502 Bad Gateway</body></html>\n",
    b'{"choices": [{"message": {"content": "not streamed"}}]}\n',
    b"\x00\xff\xfe binary noise\n",
])
def test_a_server_sending_garbage_fails_at_once(garbage: bytes) -> None:
    server = Server(lambda: httpx.Response(200, stream=Trickle([garbage] + [sse("x", done=False)] * 50, gap=0.05)))
    with pytest.raises(GenerationError):
        assert timed(lambda: openai(server, retries=0).generate(PROMPT)) < 1


def test_retries_stop_at_the_first_token_deadline(no_backoff: list[float]) -> None:
    def slow_500() -> httpx.Response:
        threading.Event().wait(0.2)
        return httpx.Response(500)

    server = Server(slow_500)
    generator = openai(server, retries=50, first_token_s=0.5)
    assert timed(lambda: pytest.raises(GenerationError, generator.generate, PROMPT)) < 1.5
    threading.Event().wait(0.5)
    assert len(server.requests) < 10, "the helper kept retrying after the patient got the fallback"


def test_5xx_with_an_html_page_is_a_generation_error() -> None:
    server = Server(httpx.Response(502, content=b"<html>Bad Gateway</html>"))
    with pytest.raises(GenerationError, match="HTTP 502"):
        openai(server, retries=0).generate(PROMPT)


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="above zero"):
        OpenAIGenerator(BASE, "m", first_token_s=0)


def test_probe_says_whether_the_server_answers() -> None:
    assert openai(Server(httpx.Response(200, json={"data": []}))).probe()
    assert not openai(Server(httpx.ConnectError("refused"))).probe()


def test_local_batch_size_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        LocalGenerator(tmp_path, batch_size=0)
    assert LocalGenerator(tmp_path, batch_size=1).batch_size == 1  # 1: batching off, the plain generate path
