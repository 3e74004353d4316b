"""The chat page in a real browser (Debian's Chromium driven by Playwright): notice, question, sourced answer,
start over. Also saves the screenshot the README shows."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
ANSWER_TIMEOUT_MS = 120_000
SOURCE_LINK = '#chat a[href^="https://"]'


@pytest.fixture(scope="module")
def page(browser, live_server: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(live_server + "/", wait_until="domcontentloaded")
    yield page
    context.close()


def test_the_page_says_ai_not_a_clinician_and_911(page):
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    text = notice.inner_text()
    assert "AI, not a clinician" in text
    assert "911" in text


def test_a_question_gets_a_sourced_answer_and_start_over_clears_it(page):
    question = "How can I lower my blood pressure?"
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    chat = page.locator("#chat")
    chat.get_by_text(question).first.wait_for(state="visible")
    link = page.locator(SOURCE_LINK).first
    link.wait_for(state="visible", timeout=ANSWER_TIMEOUT_MS)
    assert link.get_attribute("href").startswith("https://")
    assert "blood pressure" in chat.inner_text().lower()
    page.wait_for_timeout(500)  # let the last render settle before the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    messages = page.locator("#chat .message")
    assert messages.count() >= 2, "expected the question and the answer as chat messages"
    page.get_by_role("button", name="Start over").click()
    page.locator(SOURCE_LINK).first.wait_for(state="detached")
    assert question not in chat.inner_text()
    assert messages.count() == 0
