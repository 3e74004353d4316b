"""Grounding report on real patient questions (K-QA): share of generated sentences kept by verification, routes,
fallback rate. Usage: python bench/eval_kqa.py [N] [--out bench/results/kqa.json]"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import sys
from pathlib import Path

from chatbot.pipeline import Pipeline
from chatbot.types import Query

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "k-qa" / "questions_not_in_answered_set.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=100)
    parser.add_argument("--out", type=Path, default=Path("bench/results/kqa.json"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"K-QA data not found at {DATA}; nothing to measure.")
        return 0
    questions = sorted({json.loads(line)["Question"] for line in DATA.open(encoding="utf-8")})
    sample = random.Random(args.seed).sample(questions, args.n)
    pipeline = Pipeline()
    pipeline.warm_up()
    routes, reasons, kept, checked, firsts, rows = collections.Counter(), collections.Counter(), 0, 0, [], []
    for question in sample:
        reply = pipeline.answer(Query(question))
        routes[reply.route] += 1
        reasons.update(c.reason for c in reply.checks)
        kept += sum(c.kept for c in reply.checks)
        checked += len(reply.checks)
        if reply.route in ("answer", "fallback"):
            firsts.append(reply.timings_ms["first_sentence"])
        rows.append({"question": question, "route": reply.route, "answer": reply.text,
                     "citations": [c.doc_id for c in reply.citations],
                     "checks": [{"text": c.text, "kept": c.kept, "reason": c.reason} for c in reply.checks]})
    generated = routes["answer"] + routes["fallback"]
    summary = {
        "questions": len(sample), "routes": dict(routes),
        "generated_sentences": checked, "kept_sentences": kept,
        "kept_share": round(kept / checked, 3) if checked else None,
        "fallback_rate_of_generated": round(routes["fallback"] / generated, 3) if generated else None,
        "drop_reasons": dict(reasons),
        "first_sentence_ms_p50": round(statistics.median(firsts)) if firsts else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # the questions belong to the data set: the committed report keeps the figures, the replies go to a temp file
    args.out.write_text(json.dumps({"summary": summary}, indent=1, ensure_ascii=False))
    Path("/tmp/kqa_replies.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
