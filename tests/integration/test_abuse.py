"""Abuse through the real web app: per-client rate limits on the API and the page (one client flooding gets 429
or a friendly message in the chat, another client is unaffected), request size refused before any model work, and
the Gradio settings locked down (no file access outside the app, no share link, no flagging, analytics off)."""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from chatbot import messages
from chatbot.config import Settings
from chatbot.pipeline import Pipeline

from .conftest import send_on_page, serving

pytestmark = pytest.mark.slow

EMERGENCY = "I have crushing chest pain"  # answered by the screening rules alone: the flood costs no model time
FLOOD = 100
ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def limited_server(real_settings: Settings, real_pipeline: Pipeline) -> Iterator[str]:
    from chatbot.web import create_app

    settings = real_settings.replace(rate_limit_api="10/minute", rate_limit_requests="20/minute",
                                     trusted_proxy_header="X-Forwarded-For")
    with serving(create_app(settings, real_pipeline)) as url:
        yield url


@pytest.fixture(scope="module")
def page_limited_server(real_settings: Settings, real_pipeline: Pipeline) -> Iterator[str]:
    """Questions from the page limited to 2 a minute; a page load (about 60 requests) is well within the rest."""
    from chatbot.web import create_app

    settings = real_settings.replace(rate_limit_page="2/minute", trusted_proxy_header="X-Forwarded-For")
    with serving(create_app(settings, real_pipeline)) as url:
        yield url


def flood(client: httpx.Client, method: str, path: str, address: str, **kwargs) -> list[httpx.Response]:
    headers = {"X-Forwarded-For": address}
    return [client.request(method, path, headers=headers, **kwargs) for _ in range(FLOOD)]


def test_one_client_flooding_the_api_gets_429_and_another_is_unaffected(limited_server: str, real_settings):
    with httpx.Client(base_url=limited_server, timeout=30) as client:
        responses = flood(client, "POST", "/api/v1/chat", "203.0.113.10", json={"question": EMERGENCY})
        refused = [r for r in responses if r.status_code == 429]
        assert len(refused) >= 85, [r.status_code for r in responses]
        assert {r.status_code for r in responses} <= {200, 429}
        friendly = messages.message("rate_limited", "en", real_settings)
        assert all(r.json() == {"error": friendly} and int(r.headers["retry-after"]) > 0 for r in refused)
        other = client.post("/api/v1/chat", json={"question": EMERGENCY}, headers={"X-Forwarded-For": "203.0.113.11"})
        assert other.status_code == 200 and other.json()["route"] == "emergency"


def test_one_client_flooding_the_page_gets_429_and_another_is_unaffected(limited_server: str):
    with httpx.Client(base_url=limited_server, timeout=30) as client:
        responses = flood(client, "GET", "/", "203.0.113.20")
        refused = [r for r in responses if r.status_code == 429]
        assert len(refused) >= 75, [r.status_code for r in responses]
        assert "wait a minute" in refused[0].json()["error"]
        assert client.get("/", headers={"X-Forwarded-For": "203.0.113.21"}).status_code == 200


def test_questions_from_the_page_over_the_limit_get_a_friendly_message(browser, page_limited_server: str):
    flooding = ask_on_page(browser, page_limited_server, "198.51.100.30", [EMERGENCY] * 3)
    assert flooding == ["emergency", "emergency", "limited"], flooding
    assert ask_on_page(browser, page_limited_server, "198.51.100.31", [EMERGENCY]) == ["emergency"]


def ask_on_page(browser, url: str, address: str, questions: list[str]) -> list[str]:
    """Ask each question on the page as one client; what each answer was: emergency, limited or other."""
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": address})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url + "/", wait_until="domcontentloaded")
    seen = []
    try:
        for n, question in enumerate(questions, start=1):
            send_on_page(page, question, n)
            bot = page.locator("#chat .bot")
            page.wait_for_function(f"document.querySelectorAll('#chat .bot').length >= {n} && "
                                   f"document.querySelectorAll('#chat .bot')[{n - 1}].innerText.trim().length > 20",
                                   timeout=ANSWER_TIMEOUT_MS)
            text = bot.nth(n - 1).inner_text()
            seen.append("emergency" if "911" in text and "emergency" in text.lower() and "faster" not in text
                        else "limited" if "faster than I can answer" in text else "other: " + text)
    finally:
        context.close()
    return seen


def test_a_large_request_is_refused_before_the_app(page_limited_server: str):
    with httpx.Client(base_url=page_limited_server, timeout=30) as client:
        big = "x" * 200_000
        api = client.post("/api/v1/chat", json={"question": big}, headers={"X-Forwarded-For": "192.0.2.40"})
        page = client.post("/gradio_api/queue/join", json={"data": [big], "fn_index": 0, "session_hash": "abc"},
                           headers={"X-Forwarded-For": "192.0.2.40"})
        assert api.status_code == 413 and "larger than" in api.json()["error"]
        assert page.status_code == 413


# ---------------------------------------------------------------------------------------------- Gradio lockdown
def probes(real_settings: Settings, secret: Path) -> list[str]:
    root = Path(__file__).resolve().parents[2]
    targets = ["/etc/passwd", "../../../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd",
               "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "....//....//....//etc/passwd", "chatbot/config.py",
               str(root / "pyproject.toml"), str(real_settings.model_dir / "config.json"),
               str(real_settings.resolved_index_dir / "manifest.json"), str(secret), "~/.bashrc",
               "http://example.com/x.png", "https://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
               "//example.com/x", urllib.parse.quote("/etc/passwd", safe="")]
    paths = []
    for target in targets:
        paths += [f"/gradio_api/file={target}", f"/file={target}", f"/gradio_api/file/{target}"]
    return paths


def test_file_access_outside_the_app_is_refused(http: httpx.Client, real_settings: Settings):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("SECRET-FILE-CONTENT-7731")
    secret = Path(handle.name)
    try:
        for path in probes(real_settings, secret):
            response = http.get(path, follow_redirects=True)
            assert response.status_code in (400, 403, 404, 405), (path, response.status_code)
            body = response.text
            assert "root:" not in body and "SECRET-FILE" not in body and "[project]" not in body, path
    finally:
        os.unlink(secret)


def test_gradio_is_locked_down(http: httpx.Client, live_server: str):
    config = http.get("/config").json()
    assert config.get("analytics_enabled") is False
    assert not config.get("share_url") and not config.get("is_share", False)
    assert config.get("show_error") in (False, None)
    names = {str(c.get("props", {}).get("label", "")).lower() for c in config.get("components", [])}
    assert not any("flag" in name for name in names)
    kinds = {c.get("type") for c in config.get("components", [])}
    assert not kinds & {"file", "uploadbutton", "image", "audio", "video", "gallery"}
    assert "flag" not in http.get("/gradio_api/info").text.lower()
