"""Fixtures for the integration tests: the real embedder, the real bundled model, the real knowledge folder
(indexed fresh once per session), and the real web app served by uvicorn on a free port.

Loading models and indexing are slow, so each of these is built once per session and shared. Tests that need a
changed pipeline build their own Pipeline around the shared embedder instead of loading it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from typing import Iterator

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot import messages  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.pipeline import Pipeline  # noqa: E402
from chatbot.text import split_sentences  # noqa: E402
from chatbot.types import Reply  # noqa: E402

SERVER_READY_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Default settings, except that the real knowledge/ folder is indexed into a fresh folder for this session."""
    settings = Settings().replace(index_dir=tmp_path_factory.mktemp("integration") / "index")
    if not (settings.model_dir / "config.json").exists():
        pytest.fail(f"The bundled model is not prepared at {settings.model_dir}: run `make prepare` first.")
    return settings


@pytest.fixture(scope="session")
def real_pipeline(real_settings: Settings) -> Pipeline:
    """The pipeline with the real embedder and the real local model, warmed up once."""
    pipeline = Pipeline(real_settings)
    pipeline.warm_up()
    assert pipeline.index_info is not None and pipeline.index_info.status == "built", pipeline.index_info
    return pipeline


@contextlib.contextmanager
def serving(app, log_level: str = "warning", port: int | None = None, url_host: str = "127.0.0.1") -> Iterator[str]:
    """`app` served by uvicorn on `port` (a free one by default) in a thread; yields its base URL, named with
    `url_host` ("localhost" makes it another origin than 127.0.0.1 for the browser)."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_READY_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the web app did not start")
        time.sleep(0.05)
    try:
        yield f"http://{url_host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(real_settings: Settings, real_pipeline: Pipeline) -> Iterator[str]:
    """The real web app (Gradio page + API) on a free port; yields its base URL."""
    from chatbot.web import create_app

    # many tests share this server from one address: the rate limits are tested on their own app (test_abuse.py)
    unlimited = real_settings.replace(**{f"rate_limit_{kind}": "100000/minute" for kind in ("api", "page", "requests")})
    with serving(create_app(unlimited, real_pipeline)) as url:
        yield url


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download), shared by the browser tests."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("Chromium is not installed: run `make browser` (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def send_on_page(page, text: str, n: int) -> None:
    """Send the n-th question; Gradio ignores a click while the previous answer's events are pending, so click
    again until the question shows in the chat."""
    for _ in range(30):
        page.locator("#question textarea").fill(text)
        page.locator("#send").click()
        try:
            page.wait_for_function(f"document.querySelectorAll('#chat .user').length >= {n}", timeout=5_000)
            return
        except Exception:  # still pending: try again
            continue
    raise AssertionError(f"question {n} was never sent")


@pytest.fixture(scope="session")
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        yield client


# ---------------------------------------------------------------------------------------------- reply checks
def curated_sentences(reply: Reply) -> set[str]:
    """Every sentence of the passages the reply was built from, split as the verifier splits them."""
    return {s for p in reply.passages for s in split_sentences(f"{p.chunk.title}. {p.chunk.text}")}


def shown_parts(reply: Reply, settings: Settings) -> tuple[str, str]:
    """(the generated part, the curated fallback part) of a reply's text."""
    intro = messages.message("fallback_intro", reply.language, settings)
    generated, found, curated = reply.text.partition(intro)
    return generated.strip(), curated.strip() if found else ""
