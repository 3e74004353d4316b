"""The identifier scrubber on the labelled privacy sets: recall (target >= 95%) per set, type and language, what
it changes in benign messages, and its cost per message. Writes bench/results/privacy.json.

An identifier counts as caught when its value no longer appears in the scrubbed text (digits compared with the
separators removed too, so a half-scrubbed "555-01" is still a leak).
Usage: python bench/privacy.py [--sets evals/privacy] [--out bench/results/privacy.json]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

from chatbot.privacy import scrub

ROOT = Path(__file__).resolve().parent.parent
TARGET_RECALL = 0.95
REPEATS = 5


def leaked(value: str, scrubbed: str) -> bool:
    if value in scrubbed:
        return True
    digits = re.sub(r"\D", "", value)
    return len(digits) >= 5 and digits in re.sub(r"\D", "", scrubbed)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def recall(records: list[dict]) -> dict:
    by_type, by_lang = collections.defaultdict(lambda: [0, 0]), collections.defaultdict(lambda: [0, 0])
    misses = []
    for record in records:
        scrubbed = scrub(record["text"])
        for identifier in record["identifiers"]:
            caught = not leaked(identifier["value"], scrubbed)
            for table, key in ((by_type, identifier["type"]), (by_lang, record["lang"])):
                table[key][0] += caught
                table[key][1] += 1
            if not caught:
                misses.append({"id": record["id"], "type": identifier["type"], "value": identifier["value"],
                               "scrubbed": scrubbed})
    caught = sum(c for c, _ in by_type.values())
    total = sum(n for _, n in by_type.values())
    return {"identifiers": total, "caught": caught, "recall": round(caught / total, 4),
            "by_type": {k: round(c / n, 3) for k, (c, n) in sorted(by_type.items())},
            "by_language": {k: round(c / n, 3) for k, (c, n) in sorted(by_lang.items())},
            "misses": misses[:40]}


def benign(records: list[dict]) -> dict:
    changed = [{"text": r["text"], "scrubbed": scrub(r["text"])} for r in records]
    changed = [c for c in changed if c["text"] != c["scrubbed"]]
    return {"messages": len(records), "changed": len(changed), "changed_share": round(len(changed) / len(records), 3),
            "examples": changed[:20]}


def cost(texts: list[str]) -> dict:
    per_message = []
    for _ in range(REPEATS):
        for text in texts:
            start = time.perf_counter()
            scrub(text)
            per_message.append((time.perf_counter() - start) * 1e6)
    per_message.sort()
    chars = statistics.mean(len(t) for t in texts)
    long_text = " ".join(texts)[:2000]
    start = time.perf_counter()
    for _ in range(20):
        scrub(long_text)
    return {"messages": len(texts), "mean_chars": round(chars), "mean_us": round(statistics.mean(per_message)),
            "p50_us": round(per_message[len(per_message) // 2]), "p95_us": round(per_message[int(len(per_message) * .95)]),
            "us_per_2000_char_message": round((time.perf_counter() - start) / 20 * 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=ROOT / "evals" / "privacy")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "privacy.json")
    args = parser.parse_args()
    sets = {name: load(args.sets / f"{name}.jsonl") for name in ("dev", "heldout", "benign")}
    scrub("warm up 555-0100")
    labelled = sets["dev"] + sets["heldout"]
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "target_recall": TARGET_RECALL,
        "dev": recall(sets["dev"]), "heldout": recall(sets["heldout"]), "all": recall(labelled),
        "benign": benign(sets["benign"]),
        "cost": cost([r["text"] for r in labelled + sets["benign"]]),
    }
    result["passed"] = result["heldout"]["recall"] >= TARGET_RECALL and result["all"]["recall"] >= TARGET_RECALL
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in ("dev", "heldout", "all"):
        print(f"{name:8s} recall {result[name]['recall']:.3f} ({result[name]['caught']}/{result[name]['identifiers']})"
              f"  by type: {result[name]['by_type']}")
    print(f"benign changed {result['benign']['changed']}/{result['benign']['messages']}; cost {result['cost']}")


if __name__ == "__main__":
    main()
