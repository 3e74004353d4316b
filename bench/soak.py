"""Soak benchmark: the real app (`chatbot serve` in its own process) under a steady load for a long time.

Sends one request every `--interval` seconds (API JSON, API stream and emergency messages in turn, several
clients), samples the server's resident memory every `--sample` seconds, and reports whether memory grows without
bound (the least-squares slope of RSS over the second half of the run, and the growth from the end of the first
half to the end) and whether every request was answered. Writes bench/results/soak.json.

Usage: nice -n 5 python bench/soak.py [--minutes 30] [--interval 3] [--sample 5] [--out bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from questions import EMERGENCY_MESSAGES, PATIENT_QUESTIONS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
READY_S = 300
REQUEST_TIMEOUT_S = 120
# growth over the second half above this is treated as unbounded (a leak of ~1 KB per request shows well below it)
MAX_SECOND_HALF_GROWTH_MB = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server(port: int, workdir: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               GRADIO_ANALYTICS_ENABLED="False", CHATBOT_INDEX_DIR=str(workdir / "index"),
               CHATBOT_RATE_LIMIT_API="100000/minute", CHATBOT_RATE_LIMIT_REQUESTS="100000/minute",
               CHATBOT_TRUSTED_PROXY_HEADER="X-Forwarded-For",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "chatbot.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "server.log", "wb"))


def wait_ready(client: httpx.Client, server: subprocess.Popen) -> float:
    start = time.monotonic()
    while time.monotonic() - start < READY_S:
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if client.get("/healthz").status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server was not ready in time")


def one_request(client: httpx.Client, kind: str, text: str, n: int) -> dict:
    start = time.monotonic()
    headers = {"X-Forwarded-For": f"10.0.0.{n % 8}"}
    try:
        if kind == "stream":
            with client.stream("POST", "/api/v1/chat", json={"question": text},
                               headers={**headers, "Accept": "text/event-stream"}) as response:
                body = response.read().decode("utf-8")
            ok = response.status_code == 200 and "event: done" in body
        else:
            response = client.post("/api/v1/chat", json={"question": text}, headers=headers)
            ok = response.status_code == 200 and bool(response.json().get("answer", "").strip())
        status = response.status_code
    except httpx.HTTPError as error:
        ok, status = False, error.__class__.__name__
    return {"kind": kind, "ok": ok, "status": status, "seconds": time.monotonic() - start}


def slope_mb_per_hour(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return 0.0
    t, mb = np.array(samples).T
    return float(np.polyfit(t / 3600, mb, 1)[0])


def run(minutes: float, interval: float, sample_every: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    port = free_port()
    server = start_server(port, workdir)
    samples: list[tuple[float, float]] = []
    results: list[dict] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT_S) as client:
            ready_s = wait_ready(client, server)
            t0 = time.monotonic()

            def sampler() -> None:
                while not stop.is_set():
                    samples.append((time.monotonic() - t0, rss_mb(server.pid)))
                    stop.wait(sample_every)

            threading.Thread(target=sampler, daemon=True).start()
            plan = itertools.cycle([("json", q) for q in PATIENT_QUESTIONS[:10]] + [("stream", q) for q in
                                   PATIENT_QUESTIONS[10:20]] + [("json", m) for m in EMERGENCY_MESSAGES[:5]])
            futures = []
            with ThreadPoolExecutor(max_workers=8) as pool:
                for n in itertools.count():
                    due = t0 + n * interval
                    if due - t0 > minutes * 60:
                        break
                    time.sleep(max(0.0, due - time.monotonic()))
                    kind, text = next(plan)
                    futures.append(pool.submit(one_request, client, kind, text, n))
                results = [f.result() for f in futures]
            stop.set()
            samples.append((time.monotonic() - t0, rss_mb(server.pid)))
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
    return summarise(samples, results, ready_s, minutes, interval)


def summarise(samples: list[tuple[float, float]], results: list[dict], ready_s: float, minutes: float,
              interval: float) -> dict:
    half = samples[-1][0] / 2
    second = [s for s in samples if s[0] >= half]
    at_half = second[0][1]
    seconds = sorted(r["seconds"] for r in results)
    failures = [r for r in results if not r["ok"]]
    growth = samples[-1][1] - at_half
    return {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_end": os.getloadavg()},
        "load": {"minutes": minutes, "interval_s": interval, "requests_per_minute": 60 / interval,
                 "mix": "10 JSON questions, 10 streamed questions, 5 emergencies, in turn; 8 client addresses"},
        "server_ready_s": round(ready_s, 1),
        "requests": len(results), "answered": len(results) - len(failures),
        "failures": failures[:20], "every_request_answered": not failures,
        "latency_s": {"p50": round(float(np.percentile(seconds, 50)), 2),
                      "p95": round(float(np.percentile(seconds, 95)), 2), "max": round(seconds[-1], 2)},
        "rss_mb": {"start": round(samples[0][1], 1), "at_half": round(at_half, 1), "end": round(samples[-1][1], 1),
                   "max": round(max(mb for _, mb in samples), 1),
                   "second_half_growth_mb": round(growth, 1),
                   "second_half_slope_mb_per_hour": round(slope_mb_per_hour(second), 1),
                   "whole_run_slope_mb_per_hour": round(slope_mb_per_hour(samples), 1)},
        "memory_bounded": growth < MAX_SECOND_HALF_GROWTH_MB,
        "rss_samples": [[round(t, 1), round(mb, 1)] for t, mb in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between requests")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between memory samples")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args()
    result = run(args.minutes, args.interval, args.sample)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    summary = {k: result[k] for k in ("requests", "answered", "every_request_answered", "memory_bounded")}
    print(json.dumps({**summary, "rss_mb": result["rss_mb"], "latency_s": result["latency_s"]}, indent=2))


if __name__ == "__main__":
    main()
