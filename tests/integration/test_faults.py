"""Faults through the real web app, each giving patients a safe answer or a clear message and recovering when the
fault goes: the model server slow, cut mid-stream and down (a fault-injecting OpenAI-compatible server that switches
between faulty and healthy; the real `transformers serve` killed mid-answer is in test_backend_server.py), the index
folder missing, truncated, from another embedder or removed while serving, and a knowledge folder with broken files.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.text import split_sentences

from .conftest import serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How can I lower my blood pressure?"
TOPICS = ("high-blood-pressure", "asthma", "common-cold")
READY_S = 180
_PASSAGE = re.compile(r"^\[1\] [^\n]*?\): (.+)$", re.M)


class FaultyModelServer:
    """An OpenAI-compatible chat server whose behaviour a test switches: `ok` (copies two sentences of the first
    passage it is given, as a faithful model would), `slow` (says nothing for a long time), `cut` (one piece, then
    the connection drops) or `down` (not listening)."""

    def __init__(self) -> None:
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked, as real servers stream: a cut is an incomplete body

            def log_message(self, *args) -> None:
                pass

            def chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.mode == "slow":
                    time.sleep(8)
                    self.close_connection = True
                    return
                prompt = "\n".join(m["content"] for m in body["messages"])
                match = _PASSAGE.search(prompt)
                answer = " ".join(split_sentences(match.group(1))[:2]) if match else "I do not know."
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = [answer[i:i + 12] for i in range(0, len(answer), 12)]
                for n, piece in enumerate(pieces):
                    chunk = {"choices": [{"delta": {"content": piece}}]}
                    self.chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                    if outer.mode == "cut" and n == 1:
                        self.close_connection = True
                        self.connection.shutdown(2)  # the connection drops mid-answer, the body unfinished
                        return
                self.chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def small_knowledge(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "knowledge"
    (folder / "en").mkdir(parents=True)
    for topic in TOPICS:
        shutil.copy(ROOT / "knowledge" / "en" / f"{topic}.md", folder / "en")
    return folder


def settings_for(real_settings: Settings, knowledge: Path, index: Path, **changes) -> Settings:
    return real_settings.replace(knowledge_dir=knowledge, index_dir=index, import_dir=index.parent / "imported",
                                 **{f"rate_limit_{k}": "100000/minute" for k in ("api", "page", "requests")},
                                 **changes)


def wait_healthy(client: httpx.Client) -> dict:
    deadline = time.monotonic() + READY_S
    while True:
        response = client.get("/healthz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.json()
        time.sleep(0.3)


def ask(client: httpx.Client, question: str = QUESTION) -> dict:
    response = client.post("/api/v1/chat", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def assert_safe_curated(record: dict) -> None:
    assert record["route"] == "fallback", record
    assert "generation_failed" in record["flags"] or "generation_timeout" in record["flags"], record["flags"]
    assert "high-blood-pressure" in {c["doc_id"] for c in record["citations"]}


@pytest.fixture(scope="module")
def model_server() -> Iterator[FaultyModelServer]:
    server = FaultyModelServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def openai_app(model_server, real_settings, real_pipeline, small_knowledge, tmp_path_factory) -> Iterator[httpx.Client]:
    from chatbot.web import create_app

    settings = settings_for(real_settings, small_knowledge, tmp_path_factory.mktemp("faults-index") / "index",
                            generator="openai", openai_base_url=model_server.base_url, openai_retries=0,
                            openai_read_timeout_s=1.5, openai_connect_timeout_s=1.0, generation_timeout_s=3.0)
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder)
    with serving(create_app(settings, pipeline)) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert wait_healthy(client)["status"] == "ok"
        yield client


@pytest.mark.parametrize("fault", ["slow", "cut", "down"])
def test_a_model_server_fault_gives_the_curated_answer_and_recovers(openai_app: httpx.Client, model_server, fault):
    model_server.mode = "ok"
    healthy = ask(openai_app)
    assert healthy["route"] == "answer", healthy
    if fault == "down":
        model_server.server.socket.close()  # nothing accepts connections now
        model_server.server.shutdown()
    else:
        model_server.mode = fault
    started = time.monotonic()
    record = ask(openai_app)
    assert time.monotonic() - started < 15
    assert_safe_curated(record)
    assert openai_app.get("/healthz").json()["status"] == "degraded"
    if fault == "down":  # the server comes back on the same port
        port = int(model_server.base_url.rsplit(":", 1)[1].split("/")[0])
        restarted = _restart_on(model_server, port)
        model_server.server = restarted.server
    model_server.mode = "ok"
    recovered = ask(openai_app)
    assert recovered["route"] == "answer", recovered
    assert openai_app.get("/healthz").json()["status"] == "ok"


def _restart_on(old: FaultyModelServer, port: int) -> FaultyModelServer:
    handler = old.server.RequestHandlerClass
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    holder = FaultyModelServer.__new__(FaultyModelServer)
    holder.server = server
    return holder


# ---------------------------------------------------------------------------------------------- index and knowledge
def damage(index: Path, how: str) -> None:
    if how == "missing":
        shutil.rmtree(index)
    elif how == "truncated":
        faiss_file = index / "en.faiss"
        faiss_file.write_bytes(faiss_file.read_bytes()[: faiss_file.stat().st_size // 3])
    elif how == "other-embedder":
        manifest = json.loads((index / "manifest.json").read_text())
        manifest["embedder"], manifest["dim"] = "some-other-embedder", 768
        (index / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def built_index(real_settings, real_pipeline, small_knowledge, tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("built") / "index"
    Pipeline(settings_for(real_settings, small_knowledge, index), embedder=real_pipeline.embedder).retriever
    return index


@pytest.mark.parametrize("how", ["missing", "truncated", "other-embedder"])
def test_a_damaged_index_is_rebuilt_and_patients_get_answers(how, built_index, real_settings, real_pipeline,
                                                             small_knowledge, tmp_path):
    from chatbot.web import create_app

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    damage(index, how)
    settings = settings_for(real_settings, small_knowledge, index)
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder, generator=real_pipeline.generator)
    with serving(create_app(settings, pipeline)) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = wait_healthy(client)
        assert health["status"] == "ok", health
        assert health["index"]["status"] == ("built" if how == "missing" else health["index"]["status"])
        assert how == "missing" or health["index"]["status"].startswith("rebuilt"), health["index"]
        record = ask(client)
        assert record["route"] in ("answer", "fallback") and "high-blood-pressure" in {
            c["doc_id"] for c in record["citations"]}
        shutil.rmtree(index)  # the folder goes while serving: the loaded index keeps answering
        assert ask(client, "What helps a cold?")["route"] in ("answer", "fallback")
    again = Pipeline(settings, embedder=real_pipeline.embedder)  # and the next start rebuilds it
    again.retriever
    assert again.index_info.status == "built" and (index / "manifest.json").exists()


BROKEN = {
    "bad-yaml.md": "---\nid: [unclosed\ntitle: Broken\n---\n## What it is\nText.\n",
    "no-front-matter.md": "## What it is\nA file without its front matter.\n",
    "binary.md": b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 50,
    "bad-url.md": ("---\nid: bad-url\ntitle: Bad url\nlanguage: en\nsummary: s.\nsources:\n  - {title: t, url: "
                   "'javascript:alert(1)', publisher: MedlinePlus}\nlast_reviewed: 2026-01-01\nreview_due: 2027-01-01\n"
                   "---\n## What it is\nText.\n"),
}


def test_broken_knowledge_files_are_skipped_and_the_rest_answered(real_settings, real_pipeline, small_knowledge,
                                                                  tmp_path):
    from chatbot.web import create_app

    knowledge = tmp_path / "knowledge"
    shutil.copytree(small_knowledge, knowledge)
    for name, content in BROKEN.items():
        path = knowledge / "en" / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    settings = settings_for(real_settings, knowledge, tmp_path / "index")
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder, generator=real_pipeline.generator)
    with serving(create_app(settings, pipeline)) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = wait_healthy(client)
        assert health["status"] == "ok" and health["index"]["document_count"] == len(TOPICS), health
        assert len(pipeline.knowledge.problems) == len(BROKEN)
        record = ask(client)
        assert "high-blood-pressure" in {c["doc_id"] for c in record["citations"]}
    # the fault goes (the files are fixed or removed): the next start indexes what is there
    for name in BROKEN:
        (knowledge / "en" / name).unlink()
    (knowledge / "en" / "common-cold.md").unlink()
    again = Pipeline(settings, embedder=real_pipeline.embedder)
    again.retriever
    assert not again.knowledge.problems
    assert again.index_info.status.startswith("rebuilt") and again.index_info.document_count == len(TOPICS) - 1


def test_an_unreadable_knowledge_folder_gives_a_clear_message(real_settings, real_pipeline, tmp_path):
    from chatbot.web import create_app

    settings = settings_for(real_settings, tmp_path / "no-such-folder", tmp_path / "index")
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder, generator=real_pipeline.generator)
    with serving(create_app(settings, pipeline)) as url, httpx.Client(base_url=url, timeout=120) as client:
        health = wait_healthy(client)
        record = client.post("/api/v1/chat", json={"question": QUESTION})
        assert record.status_code == 200
        body = record.json()
        assert "Traceback" not in body["answer"] and body["answer"].strip()
        assert body["route"] in ("no_answer", "fallback"), body
        assert health["status"] in ("ok", "degraded")
        emergency = client.post("/api/v1/chat", json={"question": "I have crushing chest pain"}).json()
        assert emergency["route"] == "emergency" and "911" in emergency["answer"]
