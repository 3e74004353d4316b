"""Privacy scan: 1,000 messages full of synthetic Safe Harbor identifiers sent through the real web app (the page in
a real browser and the API, JSON and streamed), every logger at DEBUG (uvicorn, gradio, httpx included), stdout and
stderr captured; then every log line, the metrics, and every file the app wrote under its cache folder and the
temporary folder are searched for every identifier: zero matches. A control planted in a log record and a file
shows that the scan finds what is there."""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chatbot.config import Settings
from chatbot.pipeline import Pipeline

from .conftest import send_on_page, serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 1000
PAGE_MESSAGES = 12
MAX_FILE_BYTES = 64 * 1024 * 1024
# what patients with identifiers in their message ask: mostly about their records (no guidance: answered at once),
# emergencies (screened), and health questions (retrieval and, in English, the model)
QUESTIONS = {
    "en": ["Can you update my address in my record?", "I need to reschedule my appointment.",
           "Why was I billed twice?", "Please send my lab results to my new doctor.", "I have crushing chest pain",
           "How can I lower my blood pressure?", "Can you refill my prescription?", "Who can I talk to about my bill?"],
    "es": ["¿Pueden cambiar mi dirección en el expediente?", "Necesito cambiar mi cita.", "¿Por qué me cobraron dos veces?",
           "¿Qué ayuda con la fiebre?", "Tengo un dolor muy fuerte en el pecho"],
    "zh": ["请帮我更新病历里的地址。", "我想改一下预约时间。", "为什么收了我两次钱？", "发烧了怎么办？"],
}
# values too short or too common to search for in binary files and logs without false alarms (ages, postcodes);
# every message that carries one also carries longer identifiers, which are searched
SKIP_TYPES = {"AGE", "ZIP"}


def load_sets():
    spec = importlib.util.spec_from_file_location("make_sets", ROOT / "evals" / "privacy" / "make_sets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted: keep its raw parts, they are scanned too
            self.lines.append(f"{record.msg!r} {record.args!r}")


def capture_everything() -> tuple[Capture, list[tuple[logging.Logger, int, bool]]]:
    handler = Capture()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    changed = []
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]:
        changed.append((logger, logger.level, logger.disabled))
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    logging.getLogger().addHandler(handler)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn may stop these from propagating
        logging.getLogger(name).addHandler(handler)
    return handler, changed


def restore(handler: Capture, changed) -> None:
    for logger, level, disabled in changed:
        logger.setLevel(level)
        logger.disabled = disabled
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).removeHandler(handler)


def written_files(folders: list[Path], since: float) -> list[Path]:
    found = []
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if stat.st_mtime >= since and stat.st_size <= MAX_FILE_BYTES and path.is_file():
                    found.append(path)
    return found


def scan(texts: dict[str, bytes], needles: set[str]) -> list[tuple[str, str]]:
    encoded = [(n, n.encode("utf-8")) for n in needles]
    return [(where, needle) for where, data in texts.items() for needle, raw in encoded if raw in data]


def send(client: httpx.Client, n: int, text: str) -> int:
    if n % 2:
        with client.stream("POST", "/api/v1/chat", json={"question": text},
                           headers={"Accept": "text/event-stream"}) as response:
            response.read()
        return response.status_code
    return client.post("/api/v1/chat", json={"question": text}).status_code


def ask_on_page(browser, url: str, texts: list[str]) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + "/", wait_until="domcontentloaded")
    for n, text in enumerate(texts, start=1):
        send_on_page(page, text, n)
        page.wait_for_function(f"document.querySelectorAll('#chat .bot').length >= {n} && "
                               f"document.querySelectorAll('#chat .bot')[{n - 1}].innerText.trim().length > 20",
                               timeout=300_000)
    context.close()


@pytest.mark.timeout(1800)
def test_no_identifier_reaches_a_log_line_or_a_file(browser, real_settings: Settings, real_pipeline: Pipeline,
                                                    tmp_path: Path, capfd):
    from chatbot.web import create_app

    records = load_sets().messages(MESSAGES, seed=8, questions=QUESTIONS)
    needles = {i["value"] for r in records for i in r["identifiers"] if i["type"] not in SKIP_TYPES}
    assert {i["type"] for r in records for i in r["identifiers"]} >= {"NAME", "SSN", "MRN", "EMAIL", "IP", "URL"}
    texts = [r["text"] for r in records]
    cache = tmp_path / "cache"
    # the real model writes a short draft with a short deadline (the scan is about what is written down, not about
    # answers), so a thousand messages take minutes on a busy CPU
    settings = real_settings.replace(cache_dir=cache, model=str(real_settings.model_dir), max_new_tokens=24,
                                     generation_timeout_s=3.0,
                                     **{f"rate_limit_{k}": "100000/minute" for k in ("api", "page", "requests")})
    pipeline = Pipeline(settings, embedder=real_pipeline.embedder)
    start = time.time() - 1
    handler, changed = capture_everything()
    try:
        with serving(create_app(settings, pipeline), log_level="debug") as url:
            with httpx.Client(base_url=url, timeout=180) as client:
                deadline = time.monotonic() + 180
                while client.get("/healthz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                ask_on_page(browser, url, texts[:PAGE_MESSAGES])
                with ThreadPoolExecutor(max_workers=4) as pool:
                    codes = list(pool.map(send, itertools.repeat(client), itertools.count(), texts[PAGE_MESSAGES:]))
                metrics = client.get("/metrics").text
        assert codes.count(200) == len(codes) == MESSAGES - PAGE_MESSAGES, sorted(set(codes))
        logging.getLogger("chatbot.scan").debug("control %s", "CONTROL-IDENTIFIER-5512")
        cache.mkdir(parents=True, exist_ok=True)  # the app may have written nothing there
        (cache / "control.txt").write_text("CONTROL-IDENTIFIER-5512", encoding="utf-8")
    finally:
        restore(handler, changed)
    out, err = capfd.readouterr()
    files = written_files([cache, Path(tempfile.gettempdir())], start)
    sources = {"log records": "\n".join(handler.lines).encode("utf-8"), "stdout": out.encode("utf-8"),
               "stderr": err.encode("utf-8"), "metrics": metrics.encode("utf-8")}
    for path in files:
        try:
            sources[str(path)] = path.read_bytes()
        except OSError:
            continue
    assert len(handler.lines) > MESSAGES, "DEBUG logging was not captured"
    found = scan(sources, needles | {"CONTROL-IDENTIFIER-5512"})
    assert {where for where, needle in found if needle == "CONTROL-IDENTIFIER-5512"} >= {
        "log records", str(cache / "control.txt")}, "the scan cannot see a planted identifier"
    leaks = [(where, needle) for where, needle in found if needle != "CONTROL-IDENTIFIER-5512"]
    assert leaks == [], leaks[:20]
