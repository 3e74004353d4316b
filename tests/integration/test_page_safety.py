"""The patient page in a real browser, every request recorded: nothing loads from another origin, hostile Markdown
and HTML in model output and in the guidance neither runs nor fetches anything, and errors never reach the patient
as anything but the safe message."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from chatbot import messages
from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.types import Citation, Delta, Done, Prompt, Query, Reply

from .conftest import serving

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 120_000
FOREIGN = "http://203.0.113.9:8099"  # TEST-NET: a request there would show in the record, and fetch nothing
PAYLOADS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "<svg onload=\"window.__pwned='svg'\"></svg>",
    "[Read more](javascript:window.__pwned='link')",
    f"![chart]({FOREIGN}/pixel.png)",
    f"[other host]({FOREIGN}/page)",
    f"<iframe src=\"{FOREIGN}/frame\"></iframe>",
    f"<a href=\"{FOREIGN}/x\" style=\"background:url({FOREIGN}/bg.png)\">styled</a>",
]
PAYLOAD_TEXT = " ".join(f"Rest helps a fever {p}." for p in PAYLOADS)


def record_requests(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def foreign(urls: list[str], origin: str) -> list[str]:
    return [u for u in urls if not (u.startswith(origin + "/") or u == origin or u.startswith(("data:", "blob:")))]


def ask(browser, url: str, question: str) -> tuple[object, list[str], list[str]]:
    """A fresh page: ask `question`, wait for the answer; (page, every request URL, dialogs opened)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    urls, dialogs = record_requests(page), []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + "/", wait_until="domcontentloaded")
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.wait_for_function("document.querySelectorAll('#chat .bot').length >= 1 && "
                           "document.querySelector('#chat .bot').innerText.trim().length > 20",
                           timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the final render, and any image or script it would start
    return page, urls, dialogs


def assert_nothing_ran_or_loaded(page, urls: list[str], dialogs: list[str], origin: str) -> None:
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert foreign(urls, origin) == []
    hrefs = page.eval_on_selector_all("#chat a", "els => els.map(e => e.getAttribute('href') || '')")
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:")) or FOREIGN in h], hrefs
    sources = page.eval_on_selector_all("#chat img, #chat iframe, #chat script, #chat svg[onload]",
                                        "els => els.map(e => e.getAttribute('src') || e.outerHTML)")
    assert not [s for s in sources if FOREIGN in s or "onerror" in s or "onload" in s], sources


def test_the_page_loads_nothing_from_another_origin(browser, live_server: str):
    page, urls, dialogs = ask(browser, live_server, "How can I lower my blood pressure?")
    try:
        assert len(urls) > 10
        assert foreign(urls, live_server) == []
        assert page.evaluate("window.gradio_config && window.gradio_config.analytics_enabled") in (False, None)
    finally:
        page.context.close()


# ---------------------------------------------------------------------------------------------- hostile text
class PayloadPipeline:
    """Stands in for the model and the guidance: streams hostile model output, cites hostile source titles."""

    def __init__(self, settings: Settings):
        self.settings, self.index_info, self.generator_failures, self.generator = settings, None, 0, None

    def warm_up(self) -> None:
        pass

    def stream(self, query: Query) -> Iterator[Delta | Done]:
        for payload in PAYLOADS:
            yield Delta(f"Rest helps a fever {payload}.")
        citations = (Citation("fever", "Fever <img src=x onerror=\"window.__pwned='title'\">", "https://medlineplus.gov/fever.html", 0.9),
                     Citation("bad", "Bad [link](javascript:window.__pwned='t2')", "javascript:window.__pwned='url'", 0.8),
                     Citation("far", "Far away", f"{FOREIGN}/source", 0.7))
        yield Done(Reply(question=query.text, text=PAYLOAD_TEXT, language="en", route="answer",
                         citations=citations, timings_ms={"total": 1.0}))


def test_hostile_model_output_and_sources_neither_run_nor_load(browser, real_settings: Settings):
    from chatbot.web import create_app

    with serving(create_app(real_settings, PayloadPipeline(real_settings), warm=False)) as url:
        page, urls, dialogs = ask(browser, url, "What helps a fever?")
        try:
            assert_nothing_ran_or_loaded(page, urls, dialogs, url)
            shown = page.locator("#chat .bot").first.inner_text()
            assert "<script>" in shown and "onerror" in shown, shown  # shown as text, not run
            assert page.locator('#chat a[href="https://medlineplus.gov/fever.html"]').count() == 1
        finally:
            page.context.close()


HOSTILE_TOPIC = textwrap.dedent("""\
    ---
    id: night-sweats
    title: Night sweats <img src=x onerror="window.__pwned='front'">
    language: en
    summary: Night sweats and what helps.
    sources:
      - {title: "Night sweats", url: "https://medlineplus.gov/ency/article/003360.htm", publisher: MedlinePlus}
    last_reviewed: 2026-06-01
    review_due: 2027-06-01
    ---

    ## What it is
    Night sweats are heavy sweating during sleep that soaks your clothes or bedding. <script>window.__pwned='body'</script>
    Night sweats can come from a warm room, heavy blankets or a fever. ![sweat chart](FOREIGN/sweat.png)
    Night sweats in the menopause are common and usually harmless. [More about night sweats](javascript:window.__pwned='k')

    ## What you can do
    Keep your bedroom cool and use light blankets to ease night sweats. <img src=x onerror="window.__pwned='k2'">
    Drink water during the day to replace what night sweats take. [Read this](FOREIGN/page)

    ## When to get help now
    Call 911 if night sweats come with chest pain or trouble breathing.
    """).replace("FOREIGN", FOREIGN)


class EchoPassages:
    """A generator that copies the curated passages word for word (as a faithful model would), so the hostile
    sentences pass verification and reach the page."""

    name, supports_prefill = "copy", False

    def stream(self, prompt: Prompt) -> Iterator[str]:
        yield HOSTILE_TOPIC.split("## What it is\n")[1].split("\n\n## When")[0]

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


def test_hostile_guidance_through_the_real_pipeline_neither_runs_nor_loads(browser, real_settings: Settings,
                                                                             real_pipeline: Pipeline, tmp_path: Path):
    from chatbot.web import create_app

    (tmp_path / "knowledge" / "en").mkdir(parents=True)
    (tmp_path / "knowledge" / "en" / "night-sweats.md").write_text(HOSTILE_TOPIC, encoding="utf-8")
    settings = real_settings.replace(knowledge_dir=tmp_path / "knowledge", index_dir=tmp_path / "index",
                                     import_dir=tmp_path / "imported", min_relevance=0.2)
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder, generator=EchoPassages())
    with serving(create_app(settings, pipeline)) as url:
        page, urls, dialogs = ask(browser, url, "What can I do about night sweats?")
        try:
            assert_nothing_ran_or_loaded(page, urls, dialogs, url)
            assert "night sweats" in page.locator("#chat .bot").first.inner_text().lower()
        finally:
            page.context.close()


# ---------------------------------------------------------------------------------------------- errors
class BrokenPipeline(PayloadPipeline):
    def stream(self, query: Query) -> Iterator[Delta | Done]:
        raise RuntimeError("Traceback SECRET-INTERNAL-DETAIL /srv/chatbot/pipeline.py line 42")


@pytest.mark.parametrize("raise_errors", [False, True], ids=["error-boundary", "error-escapes-to-gradio"])
def test_an_internal_error_shows_no_detail(browser, real_settings: Settings, monkeypatch, raise_errors: bool):
    from chatbot.web import create_app

    if raise_errors:
        monkeypatch.setenv("CHATBOT_RAISE_ERRORS", "1")
    else:
        monkeypatch.delenv("CHATBOT_RAISE_ERRORS", raising=False)
    with serving(create_app(real_settings, BrokenPipeline(real_settings), warm=False)) as url:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            page.goto(url + "/", wait_until="domcontentloaded")
            page.locator("#question textarea").fill("What helps a fever?")
            page.locator("#send").click()
            if raise_errors:
                page.wait_for_timeout(4000)
            else:
                page.get_by_text(messages.message("error", "en", real_settings)[:40]).first.wait_for()
            body = page.locator("body").inner_text()
            assert "SECRET-INTERNAL-DETAIL" not in body and "Traceback" not in body and "pipeline.py" not in body
        finally:
            context.close()
    assert os.environ.get("CHATBOT_RAISE_ERRORS") == ("1" if raise_errors else None)
