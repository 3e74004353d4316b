"""Audit store benchmark: what recording an answer costs the request (submit), and how fast the writer drains the
buffer into SQLite and, when CHATBOT_TEST_POSTGRES_URL is set, PostgreSQL (`.ci/with-postgres python bench/audit.py`).

Writes bench/results/audit.json. Usage: python bench/audit.py [--records 2000] [--out bench/results/audit.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from chatbot.audit import AnswerRecord, AuditStore, utcnow  # noqa: E402

TARGET_SUBMIT_US = 50.0  # recording must not be felt in the request path


def records(n: int) -> list[AnswerRecord]:
    return [AnswerRecord(uuid.uuid4().hex, utcnow(), "api", "answer", ("fallback",), "en", ("fever", "asthma"),
                         {"screen": 1.0, "retrieve": 20.0, "first_sentence": 900.0, "total": 2100.0},
                         "local:smollm2-135m-instruct", "0123456789ab") for _ in range(n)]


def measure(url: str, n: int) -> dict:
    store = AuditStore(url, capacity=n + 1)
    store.flush()
    batch = records(n)
    costs = []
    for record in batch:
        start = time.perf_counter()
        store.submit(record)
        costs.append((time.perf_counter() - start) * 1e6)
    start = time.perf_counter()
    assert store.flush()
    drain_s = time.perf_counter() - start
    store.close()
    costs.sort()
    return {"records": n, "submit_us_median": round(statistics.median(costs), 2),
            "submit_us_p99": round(costs[int(0.99 * len(costs))], 2),
            "drain_records_per_s": round(n / drain_s), "drain_s": round(drain_s, 3),
            "submit_target_us": TARGET_SUBMIT_US, "submit_pass": costs[int(0.99 * len(costs))] < TARGET_SUBMIT_US}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "audit.json")
    args = parser.parse_args()
    results = {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
               "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "load_average_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(f"sqlite:///{folder}/audit.sqlite3", args.records)
    pg = os.environ.get("CHATBOT_TEST_POSTGRES_URL")
    if pg:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            results["postgresql"] = measure(sa.engine.make_url(pg).set(database=name)
                                            .render_as_string(hide_password=False), args.records)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        results["postgresql"] = "skipped: CHATBOT_TEST_POSTGRES_URL is not set"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
