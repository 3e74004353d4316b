"""The web app's staff console, feedback API and origin policy, through FastAPI's test client on the tiny knowledge
(hash embedder, echo generator). The real server and browser are in tests/integration/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatbot.audit import AuditStore
from chatbot.config import Settings
from chatbot.errors import ConfigError
from chatbot.embed import allowed_origins, frame_ancestors
from chatbot.staff import hash_password
from chatbot.pipeline import Pipeline
from chatbot.web import create_app
from tests.conftest import HASH_MIN_RELEVANCE, EchoGenerator, HashEmbedder, write_knowledge

PASSWORD = "a long staff password"
PORTAL = "https://portal.example.org"


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory):
    """One app for the module (building the two Gradio pages is the slow part); each test starts signed out."""
    root = tmp_path_factory.mktemp("console")
    settings = Settings().replace(
        knowledge_dir=write_knowledge(root / "knowledge"), index_dir=root / "index", cache_dir=root / "cache",
        min_relevance=HASH_MIN_RELEVANCE, staff_accounts={"nurse": hash_password(PASSWORD)},
        session_secret="k" * 32, embed_origins=(PORTAL,), regression_dir=root / "suites")
    (root / "suites").mkdir()
    (root / "suites" / "mini.jsonl").write_text(
        '{"id": "fever", "question": "What helps a fever?", "route": "answer|fallback", "cite": "fever"}\n'
        '{"id": "asthma-wrong", "question": "What is asthma?", "cite": "fever"}\n', encoding="utf-8")
    pipeline = Pipeline(settings, embedder=HashEmbedder(), generator=EchoGenerator())
    store = AuditStore(f"sqlite:///{root / 'audit.sqlite3'}")
    with TestClient(create_app(settings, pipeline, warm=False, audit=store)) as client:
        yield client, store, root


@pytest.fixture
def app_parts(shared_app):
    client, store, root = shared_app
    client.cookies.clear()
    yield client, store


@pytest.fixture
def client(app_parts) -> TestClient:
    return app_parts[0]


def signed_in(client: TestClient) -> str:
    response = client.post("/staff/login", data={"name": "nurse", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303
    return re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/staff").text).group(1)


@pytest.mark.parametrize("method, path", [("GET", "/staff"), ("GET", "/staff/knowledge"), ("GET", "/staff/feedback"),
                                          ("GET", "/staff/suites"), ("POST", "/staff/ask"),
                                          ("POST", "/staff/suites/run")])
def test_no_staff_page_without_login(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, data={"question": "x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff/login"


def test_a_wrong_password_is_refused(client: TestClient) -> None:
    response = client.post("/staff/login", data={"name": "nurse", "password": "guess"}, follow_redirects=False)
    assert response.status_code == 401 and "do not match" in response.text
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_ask_shows_route_passages_prompt_checks_and_timings(client: TestClient) -> None:
    token = signed_in(client)
    page = client.post("/staff/ask", data={"question": "What helps a fever?", "csrf": token}).text
    for part in ("route", "Retrieved passages", "fever", "https://medlineplus.gov/fever.html", "Prompt the model saw",
                 "Draft, sentence by sentence", "dropped", "Timings", "retrieve"):
        assert part in page, part
    assert "<script" not in client.post("/staff/ask", data={"question": "<script>alert(1)</script>",
                                                            "csrf": token}).text.split("</style>")[1]


def test_a_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    signed_in(client)
    response = client.post("/staff/ask", data={"question": "What helps a fever?"})
    assert response.status_code == 403


def test_a_suite_runs_and_is_compared_with_its_previous_run(app_parts) -> None:
    client, store = app_parts
    token = signed_in(client)
    assert store.last_run("mini.jsonl") is None
    first = client.post("/staff/suites/run", data={"suite": "mini.jsonl", "csrf": token}).text
    assert "1/2 passed" in first and "no previous run" in first and "does not cite fever" in first
    second = client.post("/staff/suites/run", data={"suite": "mini.jsonl", "csrf": token}).text
    assert "1 still failing" in second and "1 still passing" in second
    upload = client.post("/staff/suites/run", data={"csrf": token},
                         files={"file": ("mine.csv", b"id,question,route\nq1,What is asthma?,answer|fallback\n")}).text
    assert "1/1 passed" in upload
    bad = client.post("/staff/suites/run", data={"csrf": token}, files={"file": ("bad.jsonl", b"{not json\n")})
    assert bad.status_code == 400 and "bad.jsonl, line 1" in bad.text


def test_knowledge_view_highlights_overdue_topics(client: TestClient, make_pipeline) -> None:
    signed_in(client)
    page = client.get("/staff/knowledge").text
    assert "past their review date" in page and "high-blood-pressure" in page


def test_feedback_goes_to_the_audit_with_the_answers_route_and_sources(app_parts) -> None:
    client, store = app_parts
    record = client.post("/api/v1/chat", json={"question": "What helps a fever?"}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", record["reply_id"])
    response = client.post("/api/v1/feedback", json={"reply_id": record["reply_id"], "helpful": False,
                                                      "reason": "unclear"})
    assert response.status_code == 202
    store.flush()
    [(fb, answer)] = [(fb, a) for fb, a in store.feedback() if fb.reply_id == record["reply_id"]]
    assert (fb.helpful, fb.reason, answer.route) == (False, "unclear", record["route"])
    assert "fever" in answer.topics
    signed_in(client)
    page = client.get("/staff/feedback").text
    assert "not helpful" in page and "unclear" in page and "Fever" in page


@pytest.mark.parametrize("body", [{}, {"reply_id": "x", "helpful": True}, {"reply_id": "a" * 32, "helpful": "yes"},
                                  {"reply_id": "a" * 32, "helpful": True, "reason": "free text about me"}])
def test_bad_feedback_gets_a_clear_message(client: TestClient, body: dict) -> None:
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 400 and "reply_id" in response.json()["error"]


def test_the_audit_holds_no_message_text(shared_app) -> None:
    client, store, root = shared_app
    client.post("/api/v1/chat", json={"question": "My name is Zebulon Quartz, what helps a fever?"})
    store.flush()
    data = (root / "audit.sqlite3").read_bytes()
    assert b"Zebulon" not in data and b"fever" in data  # the cited topic id, not the question


def test_frame_ancestors_allow_only_the_app_and_listed_portals(client: TestClient) -> None:
    for path in ("/healthz", "/embed/", "/staff/login"):
        assert client.get(path).headers["content-security-policy"] == f"frame-ancestors 'self' {PORTAL}"


def test_the_default_allows_framing_by_the_app_itself_only(make_pipeline, tmp_path: Path) -> None:
    pipeline = make_pipeline()
    app = create_app(pipeline.settings, pipeline, warm=False, audit=AuditStore(f"sqlite:///{tmp_path}/a.db"))
    with TestClient(app) as client:
        assert client.get("/healthz").headers["content-security-policy"] == "frame-ancestors 'self'"
        assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": PORTAL}).headers


def test_cors_answers_only_listed_origins(client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/api/v1/chat", headers={"Origin": PORTAL, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == PORTAL
    refused = client.options("/api/v1/chat", headers={"Origin": "https://evil.example.com", **preflight})
    assert "access-control-allow-origin" not in refused.headers
    post = client.post("/api/v1/chat", json={"question": "What helps a fever?"},
                       headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in post.headers
    post = client.post("/api/v1/chat", json={"question": "What helps a fever?"}, headers={"Origin": PORTAL})
    assert post.headers["access-control-allow-origin"] == PORTAL


@pytest.mark.parametrize("origin", ["portal.example.org", "https://portal.example.org/path", "*", "https://a b"])
def test_a_bad_origin_setting_is_a_clear_error(origin: str) -> None:
    with pytest.raises(ConfigError, match="embed_origins"):
        allowed_origins(Settings(embed_origins=(origin,)))


def test_origins_are_normalised() -> None:
    origins = allowed_origins(Settings(embed_origins=("https://Portal.example.org/", "http://127.0.0.1:8000")))
    assert frame_ancestors(origins) == "frame-ancestors 'self' https://portal.example.org http://127.0.0.1:8000"


def test_answers_go_out_while_the_audit_database_is_locked_and_are_recorded_after(shared_app) -> None:
    import sqlite3

    client, store, root = shared_app
    store.flush()
    blocker = sqlite3.connect(root / "audit.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file: every write fails
    try:
        response = client.post("/api/v1/chat", json={"question": "What helps a fever?"})
        assert response.status_code == 200 and response.json()["citations"]
        assert not store.flush() and store.pending >= 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.flush()
    assert response.json()["reply_id"] in {a.reply_id for a in store.answers()}
