"""The embed, the staff console and accessibility in a real browser (Debian's Chromium via Playwright).

A portal page served from one local origin (http://127.0.0.1:A) frames the chat served from another
(http://localhost:B): it loads and answers when A is on `embed_origins`, and the browser refuses it for a portal
(http://127.0.0.1:C) that is not. axe-core (bundled in the axe-playwright-python wheel, no download) checks every
page for serious or critical violations. Saves the screenshots the README shows."""

from __future__ import annotations

import importlib.resources
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from chatbot.audit import AuditStore
from chatbot.staff import hash_password
from tests.integration.conftest import free_port, serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ANSWER_TIMEOUT_MS = 180_000
QUESTION = "How can I lower my blood pressure?"
PASSWORD = "staff password for the browser test"
SOURCE_LINK = '#chat a[href^="https://"]'


class Portal:
    """A stand-in portal page on its own origin that frames the chat."""

    def __init__(self, port: int, chat_url: str):
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Portal</title></head>'
                f'<body style="font-family: sans-serif; background: #f1f5f9; margin: 1em"><h1>Northside Clinic '
                f'portal</h1><iframe id="chat" title="Health questions" src="{chat_url}" width="520" height="720" '
                f'style="border: 1px solid #94a3b8; background: #fff"></iframe></body></html>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args) -> None:
                pass

        self.url = f"http://127.0.0.1:{port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def chat(real_settings, real_pipeline, tmp_path_factory) -> Iterator[dict]:
    """The real app on http://localhost:B allowing the portal on port A; portals on A (allowed) and C (not)."""
    from chatbot.web import create_app

    port_a, port_b, port_c = free_port(), free_port(), free_port()
    settings = real_settings.replace(embed_origins=(f"http://127.0.0.1:{port_a}",), session_secret="s" * 32,
                                     staff_accounts={"nurse": hash_password(PASSWORD)})
    store = AuditStore(f"sqlite:///{tmp_path_factory.mktemp('embed') / 'audit.sqlite3'}")
    app = create_app(settings, real_pipeline, warm=False, audit=store)
    with serving(app, port=port_b, url_host="localhost") as app_url:
        allowed, refused = Portal(port_a, f"{app_url}/embed/?lang=en"), Portal(port_c, f"{app_url}/embed/?lang=en")
        yield {"app": app_url, "allowed": allowed.url, "refused": refused.url, "store": store}
        allowed.close()
        refused.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(60_000)
    yield context
    context.close()


def serious_violations(page_or_frame) -> list[str]:
    """axe-core's serious and critical violations on the page, as readable lines."""
    axe = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    page_or_frame.evaluate(axe)
    result = page_or_frame.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']} {v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def test_an_allowed_portal_frames_the_chat_and_it_answers(context, chat) -> None:
    page = context.new_page()
    page.goto(chat["allowed"])
    frame = page.frame_locator("#chat")
    assert "AI, not a clinician" in frame.locator("#notice").inner_text()
    frame.locator("#question textarea").fill(QUESTION)
    frame.locator("#question textarea").press("Enter")
    frame.locator(SOURCE_LINK).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "blood pressure" in frame.locator("#chat").inner_text().lower()
    assert frame.locator("#examples").count() == 0 or not frame.locator("#examples").is_visible()
    page.wait_for_timeout(500)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "embed.png"))

    # feedback from inside the frame: not helpful, with a reason; it reaches the audit with the answer's route
    frame.get_by_role("button", name=re.compile("dislike", re.I)).last.click()
    frame.locator("#feedback-reason").get_by_text("Hard to understand").click()
    frame.locator("#feedback-thanks").get_by_text("Thank you").wait_for()
    store = chat["store"]
    deadline = time.monotonic() + 20
    while not any(fb.reason == "unclear" for fb, _ in store.feedback()) and time.monotonic() < deadline:
        time.sleep(0.2)
    [(fb, answer)] = [(fb, a) for fb, a in store.feedback() if fb.reason == "unclear"]
    assert fb.helpful is False and answer is not None and "high-blood-pressure" in answer.topics


def test_a_portal_not_on_the_allowlist_is_refused_by_the_browser(context, chat) -> None:
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(chat["refused"])
    page.wait_for_timeout(3000)
    [frame] = [f for f in page.frames if f is not page.main_frame]
    assert frame.url.startswith("chrome-error://") or frame.locator("#notice").count() == 0
    assert page.frame_locator("#chat").locator("#notice").count() == 0
    assert any("frame-ancestors" in line for line in console), console


def test_the_browser_lets_only_the_allowed_portal_call_the_api(context, chat) -> None:
    call = """async (url) => {
      try {
        const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                    body: JSON.stringify({question: 'asdf qwer zxcv'})});
        return (await r.json()).route;
      } catch (e) { return 'blocked: ' + e.name; }
    }"""
    page = context.new_page()
    page.goto(chat["allowed"])
    assert page.evaluate(call, chat["app"] + "/api/v1/chat") in ("no_answer", "refuse")
    page.goto(chat["refused"])
    assert page.evaluate(call, chat["app"] + "/api/v1/chat") == "blocked: TypeError"


def test_keyboard_only_use_and_the_answer_is_announced_once(context, chat) -> None:
    page = context.new_page()
    page.goto(chat["app"] + "/?lang=en")
    page.locator("#notice").wait_for()
    page.evaluate("""() => {
      window.announced = [];
      const live = document.getElementById('announce');
      new MutationObserver(() => window.announced.push(live.innerText.trim()))
        .observe(live, {subtree: true, childList: true, characterData: true});
    }""")
    for _ in range(30):  # reach the question box with the keyboard alone
        if page.evaluate("document.activeElement.closest('#question') !== null"):
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.locator(SOURCE_LINK).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    announced = [text for text in page.evaluate("window.announced") if text]
    assert len(set(announced)) == 1, announced  # one complete announcement, not one per sentence
    assert announced[0].startswith("Answer:") and "Sources:" in announced[0]
    assert page.evaluate("document.getElementById('announce').getAttribute('aria-live')") == "polite"
    assert page.evaluate("[...document.querySelectorAll('#chat [aria-live]')]"
                         ".every(e => e.getAttribute('aria-live') === 'off')")
    assert serious_violations(page) == []

    for _ in range(40):  # on to "Start over" with Tab, and press it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id === 'start-over'"):
            break
    page.keyboard.press("Enter")
    page.locator(SOURCE_LINK).first.wait_for(state="detached")


def test_the_embed_in_dark_mode_with_a_brand_colour_meets_contrast(context, chat) -> None:
    page = context.new_page()
    page.goto(chat["app"] + "/embed/?theme=dark&brand=%23f59e0b&lang=es")
    page.locator("#notice").get_by_text("no un profesional", exact=False).wait_for()  # relabelled from ?lang=es
    assert page.evaluate("document.body.classList.contains('dark')")
    colours = page.locator("#send").evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert colours == ["rgb(245, 158, 11)", "rgb(0, 0, 0)"]  # black text: white on amber would fail AA
    assert serious_violations(page) == []
    assert page.locator("#brand-logo img").count() == 0  # no logo in settings or the query

    page.goto(chat["app"] + "/embed/?logo=https://elsewhere.example/logo.png")
    page.locator("#notice").wait_for()
    assert page.locator("#brand-logo img").count() == 0, "a logo from the query must be on the app's origin"
    page.goto(chat["app"] + "/embed/?logo=/embed/logo.png&logo_alt=Northside%20Clinic")
    page.locator("#brand-logo img").wait_for(state="attached")
    assert page.locator("#brand-logo img").get_attribute("alt") == "Northside Clinic"


def test_the_staff_console_in_the_browser(context, chat) -> None:
    page = context.new_page()
    page.goto(chat["app"] + "/staff")
    assert page.url.endswith("/staff/login")
    assert serious_violations(page) == []
    page.get_by_label("Name").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_role("button", name="Answer").click()
    for heading in ("Retrieved passages", "Draft, sentence by sentence", "Prompt the model saw", "Timings"):
        page.get_by_role("heading", name=heading).wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "high-blood-pressure" in page.locator("main").inner_text()
    assert serious_violations(page) == []
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.screenshot(path=str(DOCS / "staff-console.png"))
    page.get_by_role("link", name="Knowledge").click()
    assert "past their review date" in page.locator("main").inner_text()
    assert serious_violations(page) == []
    page.get_by_role("link", name="Feedback and audit").click()
    assert serious_violations(page) == []
