"""Load benchmark: many patients at once against the real web app (uvicorn, the bundled model, the real index).

Starts `chatbot serve` on a free port, then for each level (1, 4, 8, 16 concurrent patient sessions) every
session asks streamed questions (`POST /api/v1/chat`, `Accept: text/event-stream`) one after another for a fixed
time. Recorded per level: time to the first verified sentence (p50/p95), tokens per second per stream and in
total (answer text, counted with the model's tokenizer), errors, rejections (503 busy), routes, the load average.

    python bench/load.py [--seconds 60] [--levels 1,4,8,16] [--out bench/results/load.json]

Targets on the 2-core dev machine: 8 sessions with zero errors, p95 first sentence <= 6 s, total throughput >= 3x
the single-stream figure. Other people's work on the same cores slows every figure: the load average is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from questions import PATIENT_QUESTIONS  # noqa: E402

from chatbot.config import Settings  # noqa: E402

TARGETS = {"sessions": 8, "errors": 0, "first_sentence_p95_s": 6.0, "throughput_ratio": 3.0}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


def start_server(port: int, index_dir: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "GRADIO_ANALYTICS_ENABLED": "False",
           "CHATBOT_INDEX_DIR": str(index_dir), **env_extra}
    return subprocess.Popen([sys.executable, "-m", "chatbot.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(base: str, process: subprocess.Popen, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            response = httpx.get(f"{base}/healthz", timeout=5)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("the server was not ready in time")


async def one_question(client: httpx.AsyncClient, question: str, tokenizer) -> dict:
    started = time.perf_counter()
    first, text, record = None, [], None
    try:
        async with client.stream("POST", "/api/v1/chat", json={"question": question},
                                 headers={"Accept": "text/event-stream"}) as response:
            if response.status_code == 503:
                return {"outcome": "rejected", "seconds": time.perf_counter() - started}
            if response.status_code != 200:
                return {"outcome": "error", "why": f"HTTP {response.status_code}"}
            event = "message"
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    if event == "done":
                        record = data
                    else:
                        first = first if first is not None else time.perf_counter() - started
                        text.append(data["text"])
                elif not line:
                    event = "message"
    except (httpx.HTTPError, ValueError) as error:
        return {"outcome": "error", "why": error.__class__.__name__}
    seconds = time.perf_counter() - started
    if record is None or "internal_error" in record.get("flags", []):
        return {"outcome": "error", "why": "no final record" if record is None else "internal_error"}
    tokens = len(tokenizer("".join(text), add_special_tokens=False)["input_ids"])
    return {"outcome": "ok", "first_s": first if first is not None else seconds, "seconds": seconds,
            "tokens": tokens, "route": record["route"], "flags": record["flags"]}


async def run_level(base: str, sessions: int, seconds: float, tokenizer, seed: int) -> dict:
    rng = random.Random(seed)
    results: list[dict] = []
    stop_at = time.perf_counter() + seconds
    load_before = os.getloadavg()

    async def session(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            result = await one_question(client, rng.choice(PATIENT_QUESTIONS), tokenizer)
            results.append(result)
            if result["outcome"] == "rejected":
                await asyncio.sleep(1.0)

    started = time.perf_counter()
    timeout = httpx.Timeout(120.0, connect=10.0)
    async with httpx.AsyncClient(base_url=base, timeout=timeout,
                                 limits=httpx.Limits(max_connections=sessions + 4)) as client:
        await asyncio.gather(*(session(client) for _ in range(sessions)))
    wall = time.perf_counter() - started
    ok = [r for r in results if r["outcome"] == "ok"]
    tokens = sum(r["tokens"] for r in ok)
    routes: dict[str, int] = {}
    for r in ok:
        routes[r["route"]] = routes.get(r["route"], 0) + 1
    per_stream = [r["tokens"] / r["seconds"] for r in ok if r["seconds"] > 0]
    return {
        "sessions": sessions, "seconds": round(wall, 1), "answers": len(ok),
        "errors": sum(r["outcome"] == "error" for r in results),
        "error_reasons": sorted({r["why"] for r in results if r["outcome"] == "error"}),
        "rejections": sum(r["outcome"] == "rejected" for r in results),
        "first_sentence_s": {"p50": percentile([r["first_s"] for r in ok], 0.5),
                             "p95": percentile([r["first_s"] for r in ok], 0.95)},
        "answer_s": {"p50": percentile([r["seconds"] for r in ok], 0.5),
                     "p95": percentile([r["seconds"] for r in ok], 0.95)},
        "tokens_per_s_per_stream": round(sum(per_stream) / len(per_stream), 2) if per_stream else None,
        "tokens_per_s_total": round(tokens / wall, 2) if wall else None,
        "routes": routes,
        "fallback_share": round(sum("fallback" in r["flags"] for r in ok) / len(ok), 3) if ok else None,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def verdict(levels: list[dict]) -> dict:
    by = {level["sessions"]: level for level in levels}
    single, eight = by.get(1), by.get(TARGETS["sessions"])
    if not single or not eight:
        return {}
    ratio = (eight["tokens_per_s_total"] or 0) / (single["tokens_per_s_total"] or float("inf"))
    return {"sessions": 8, "errors": eight["errors"], "errors_ok": eight["errors"] == 0,
            "first_sentence_p95_s": eight["first_sentence_s"]["p95"],
            "first_sentence_ok": (eight["first_sentence_s"]["p95"] or 1e9) <= TARGETS["first_sentence_p95_s"],
            "throughput_ratio": round(ratio, 2), "throughput_ok": ratio >= TARGETS["throughput_ratio"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    parser.add_argument("--batch-size", type=int, default=None, help="CHATBOT_BATCH_SIZE for the server")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally below still stops the server
    from transformers import AutoTokenizer

    settings = Settings.load()
    tokenizer = AutoTokenizer.from_pretrained(settings.model_dir, local_files_only=True)
    sock_port = __import__("socket").socket()
    sock_port.bind(("127.0.0.1", 0))
    port = sock_port.getsockname()[1]
    sock_port.close()
    # every session comes from this one address: lift the per-client limits, which are measured in their own tests
    extra = {f"CHATBOT_RATE_LIMIT_{kind}": "1000000/minute" for kind in ("API", "PAGE", "REQUESTS")}
    if args.batch_size:
        extra["CHATBOT_BATCH_SIZE"] = str(args.batch_size)
    with tempfile.TemporaryDirectory() as folder:
        process = start_server(port, Path(folder) / "index", extra)
        base = f"http://127.0.0.1:{port}"
        try:
            health = wait_ready(base, process)
            asyncio.run(one_question(httpx.AsyncClient(base_url=base, timeout=120), PATIENT_QUESTIONS[0], tokenizer))
            levels = []
            for i, sessions in enumerate(int(x) for x in args.levels.split(",")):
                level = asyncio.run(run_level(base, sessions, args.seconds, tokenizer, seed=i))
                print(json.dumps(level), flush=True)
                levels.append(level)
        finally:
            process.terminate()
            process.wait(timeout=30)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result = {"machine": {"cpu_count": os.cpu_count(), "uptime_at_end": uptime},
              "server": {"generator": health.get("generator"), "batch_size": args.batch_size or settings.batch_size,
                         "concurrency": settings.concurrency, "queue_size": settings.queue_size},
              "seconds_per_level": args.seconds, "levels": levels, "targets": TARGETS, "verdict": verdict(levels)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["verdict"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
