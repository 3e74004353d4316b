"""Core benchmark (`make bench`): cold start, retrieval at 10,000 chunks, time to the first verified sentence,
emergency latency, peak memory, and the pipeline's overhead over a bare `generate`. Uses the real models.

Writes bench/results/core.json (every figure with its target and pass/fail) and prints a summary table.
Usage: python bench/run.py [--out bench/results/core.json] [--chunks 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from chatbot.compute import COMPUTE  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.index import KnowledgeIndex, build_index, dense_text, load_index  # noqa: E402
from chatbot.knowledge import chunk_documents, load_knowledge  # noqa: E402
from chatbot.pipeline import Pipeline  # noqa: E402
from chatbot.retrieval import Retriever  # noqa: E402
from chatbot.types import Delta, Done, Query  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import MEDQUAD, CachingEmbedder, medquad_documents, synthetic_documents  # noqa: E402
from questions import EMERGENCY_MESSAGES, PATIENT_QUESTIONS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OVERHEAD_QUESTIONS = 10
TARGETS = {  # name: (the most it may be, unit); lower is better for every figure
    "cold_start_s": (20.0, "s"),
    "retrieval_p95_ms": (25.0, "ms"),
    "first_sentence_p50_s": (1.5, "s"),
    "first_sentence_p95_s": (3.0, "s"),
    "emergency_p95_ms": (50.0, "ms"),
    "peak_rss_gb": (2.0, "GB"),
    "overhead_ratio": (1.2, "x"),
}


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 50), digits),
            "p95": round(percentile(values, 95), digits), "max": round(max(values), digits),
            "mean": round(statistics.fmean(values), digits)}


# ---------------------------------------------------------------------------------------------- (a) cold start
COLD_START = """
import json, time
started = time.perf_counter()
from chatbot.config import Settings
from chatbot.pipeline import Pipeline
imported = time.perf_counter()
pipeline = Pipeline(Settings.load())
pipeline.warm_up()
print(json.dumps({"import_s": imported - started, "warm_up_s": time.perf_counter() - imported,
                  "index_status": pipeline.index_info.status}), flush=True)
"""


def cold_start() -> dict:
    """A fresh interpreter that builds the default pipeline and warms it up; the index is already built."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", COLD_START], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    ready = time.perf_counter() - started
    process.wait(timeout=120)
    if process.returncode != 0 or not line.strip():
        raise RuntimeError(f"the cold-start process failed (exit {process.returncode})")
    inner = json.loads(line)
    return {"wall_s": round(ready, 2), "import_s": round(inner["import_s"], 2),
            "warm_up_s": round(inner["warm_up_s"], 2), "index_status": inner["index_status"]}


# ---------------------------------------------------------------------------------------------- (b) retrieval
def retrieval_at_scale(pipeline: Pipeline, settings: Settings, target_chunks: int, n_queries: int) -> dict:
    """The real English guidance plus enough extra chunks for `target_chunks`, indexed by build_index itself."""
    real = [d for d in load_knowledge(settings.knowledge_dir).documents if d.language == "en"]
    extra_needed = target_chunks - len(chunk_documents(real))
    if MEDQUAD.is_dir():
        extra, corpus_questions, source = *medquad_documents(extra_needed), "medquad"
    else:
        extra, corpus_questions, source = *synthetic_documents(real, extra_needed), "recombined real sentences"
    cache = settings.cache_dir / "bench" / f"vectors-{pipeline.embedder.name}.npz"
    embedder = CachingEmbedder(pipeline.embedder, cache)
    saved = load_index(settings.resolved_index_dir, pipeline.embedder).languages["en"]  # the real chunks' vectors
    embedder.remember([dense_text(c) for c in saved.chunks], saved.dense.reconstruct_n(0, saved.dense.ntotal))
    started = time.perf_counter()
    index = build_index(real + extra, embedder)
    build_s = time.perf_counter() - started
    embedder.save()
    queries = PATIENT_QUESTIONS + random.Random(11).sample(corpus_questions, max(0, n_queries - len(PATIENT_QUESTIONS)))
    timings, embedding, relevant = time_retrieval(index, pipeline, settings, queries[:n_queries])
    return {"source": source, "chunks_en": len(index.languages["en"].chunks), "documents": len(real) + len(extra),
            "build_s": round(build_s, 1), "embedded_now": embedder.misses, "vectors_from_cache": embedder.hits,
            "queries": len(timings), "relevant_share": round(relevant / len(timings), 3), "ms": summary(timings),
            "query_embedding_ms": summary(embedding)}


def time_retrieval(index: KnowledgeIndex, pipeline: Pipeline, settings: Settings, queries: list[str]):
    retriever = Retriever(index, pipeline.embedder, settings.top_k, settings.min_relevance, "en")
    for query in queries[:5]:  # warm caches and lazy paths
        retriever.retrieve(query, "en")
    timings, embedding, relevant = [], [], 0
    for query in queries:
        started = time.perf_counter()
        result = retriever.retrieve(query, "en")
        timings.append((time.perf_counter() - started) * 1000)
        relevant += result.relevant
    for query in queries:  # the share of the time that is the query embedding alone
        started = time.perf_counter()
        pipeline.embedder.embed([query])
        embedding.append((time.perf_counter() - started) * 1000)
    return timings, embedding, relevant


# ---------------------------------------------------------------------------------------------- (c) + (f) answers
class TokenCounter:
    """Counts the new tokens of every `generate` call the local model makes (on the compute thread)."""

    def __init__(self, model):
        self.model, self.original, self.counts = model, model.generate, []

    def __enter__(self) -> "TokenCounter":
        def counting(*args, **kwargs):
            output = self.original(*args, **kwargs)
            prompt = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
            self.counts.append(int(output.shape[-1] - prompt.shape[-1]))
            return output

        self.model.generate = counting
        return self

    def __exit__(self, *exc) -> None:
        del self.model.generate


def bare_generate_s(generator, prompt, new_tokens: int, generate: Callable) -> float:
    """The same prompt, tokenized the same way (chat template + prefill), the same number of new tokens, greedy,
    on the thread that runs every torch call in this process (chatbot.compute), as the pipeline's generate does."""
    _, tokenizer = generator._load()
    started = time.perf_counter()
    inputs = generator.encode(prompt)
    COMPUTE.run(lambda: generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 repetition_penalty=1.1, pad_token_id=tokenizer.eos_token_id))
    return time.perf_counter() - started


def timed_answer(pipeline: Pipeline, question: str):
    """(the reply, seconds to the first text the patient sees) for one question."""
    started, first_event, reply = time.perf_counter(), None, None
    for event in pipeline.stream(Query(question)):
        if isinstance(event, Delta) and first_event is None:
            first_event = time.perf_counter() - started
        if isinstance(event, Done):
            reply = event.reply
    return reply, first_event


def overhead_pair(generator, reply, new_tokens: int, generate: Callable) -> dict:
    bare = bare_generate_s(generator, reply.prompt, new_tokens, generate)
    return {"question": reply.question, "route": reply.route, "new_tokens": new_tokens,
            "pipeline_s": round(reply.timings_ms["total"] / 1000, 3), "bare_generate_s": round(bare, 3),
            "pipeline_marks_ms": reply.timings_ms}


def overhead_summary(pairs: list[dict]) -> dict:
    pipeline_s = sum(p["pipeline_s"] for p in pairs)
    ratios = [p["pipeline_s"] / p["bare_generate_s"] for p in pairs]
    return {"ratio_of_sums": round(pipeline_s / sum(p["bare_generate_s"] for p in pairs), 3),
            "ratio_p50": round(statistics.median(ratios), 3), "ratio_max": round(max(ratios), 3),
            "questions": pairs}


def answer_questions(pipeline: Pipeline, questions: list[str]) -> dict:
    """Time to the first verified sentence over typical questions; the first ones also against a bare generate."""
    generator = pipeline.generator
    firsts, totals, first_events, pairs = [], [], [], []
    routes, flags, reasons = collections.Counter(), collections.Counter(), collections.Counter()
    with TokenCounter(generator._load()[0]) as counter:
        for question in questions:
            reply, first_event = timed_answer(pipeline, question)
            firsts.append(reply.timings_ms["first_sentence"] / 1000)
            totals.append(reply.timings_ms["total"] / 1000)
            first_events.append(first_event)
            routes[reply.route] += 1
            flags.update(reply.flags)
            reasons.update(c.reason for c in reply.checks)
            if reply.prompt is not None and len(pairs) < OVERHEAD_QUESTIONS:
                pairs.append(overhead_pair(generator, reply, counter.counts[-1], counter.original))
    return {"first_sentence_s": summary(firsts), "total_s": summary(totals),
            "first_shown_event_s": summary(first_events), "routes": dict(routes), "flags": dict(flags),
            "sentence_checks": dict(reasons), "overhead": overhead_summary(pairs)}


# ---------------------------------------------------------------------------------------------- (d) emergencies
def emergency_latency(pipeline: Pipeline) -> dict:
    pipeline.answer(Query(EMERGENCY_MESSAGES[0]))  # warm
    timings, routes = [], {}
    for message in EMERGENCY_MESSAGES:
        started = time.perf_counter()
        reply = pipeline.answer(Query(message))
        timings.append((time.perf_counter() - started) * 1000)
        routes[reply.route] = routes.get(reply.route, 0) + 1
    return {"messages": len(timings), "routes": routes, "ms": summary(timings, 3)}


# ---------------------------------------------------------------------------------------------- report
def machine() -> dict:
    import torch
    import transformers

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}


def settings_record(settings: Settings, pipeline: Pipeline) -> dict:
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(settings).items()}
    record["resolved_dtype"] = getattr(pipeline.generator, "_resolved_dtype", lambda: None)()
    record["generator_name"] = pipeline.generator.name
    record["embedder_name"] = pipeline.embedder.name
    return record


def figure(name: str, value: float) -> dict:
    target, unit = TARGETS[name]
    return {"value": round(value, 3), "unit": unit, "target": f"<= {target}", "pass": bool(value <= target)}


def print_table(figures: dict) -> None:
    print(f"\n{'figure':<24}{'value':>12}  {'target':<12}{'result'}")
    for name, f in figures.items():
        target = f"{f['target']} {f['unit']}"
        print(f"{name:<24}{f['value']:>10} {f['unit']:<2} {target:<12}{'pass' if f['pass'] else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "core.json")
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    began = time.perf_counter()
    # one question at a time: the plain generate path, whose tokens TokenCounter counts and whose time the
    # bare generate is compared with; many patients at once (batching) are measured by bench/load.py
    settings = Settings.load().replace(batch_size=1)

    def step(label: str):
        print(f"[{time.perf_counter() - began:6.1f}s] {label}", flush=True)

    step("loading the pipeline (and bringing the default index up to date)")
    pipeline = Pipeline(settings)
    started = time.perf_counter()
    pipeline.warm_up()
    warm = {"warm_up_s": round(time.perf_counter() - started, 2), "index": dataclasses.asdict(pipeline.index_info)}
    step("(a) cold start in a fresh process")
    cold = cold_start()
    step("(d) emergency replies")
    emergency = emergency_latency(pipeline)
    step(f"(c)+(f) {len(PATIENT_QUESTIONS)} patient questions, {OVERHEAD_QUESTIONS} also with a bare generate")
    answers = answer_questions(pipeline, PATIENT_QUESTIONS)
    step(f"(b) retrieval over {args.chunks:,} chunks")
    retrieval = retrieval_at_scale(pipeline, settings, args.chunks, args.queries)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # Linux reports KiB
    figures = {
        "cold_start_s": figure("cold_start_s", cold["wall_s"]),
        "retrieval_p95_ms": figure("retrieval_p95_ms", retrieval["ms"]["p95"]),
        "first_sentence_p50_s": figure("first_sentence_p50_s", answers["first_sentence_s"]["p50"]),
        "first_sentence_p95_s": figure("first_sentence_p95_s", answers["first_sentence_s"]["p95"]),
        "emergency_p95_ms": figure("emergency_p95_ms", emergency["ms"]["p95"]),
        "peak_rss_gb": figure("peak_rss_gb", peak_gb),
        "overhead_ratio": figure("overhead_ratio", answers["overhead"]["ratio_of_sums"]),
    }
    if retrieval["chunks_en"] < args.chunks:
        figures["retrieval_p95_ms"]["pass"] = False
        figures["retrieval_p95_ms"]["note"] = f"only {retrieval['chunks_en']} chunks were available"
    result = {
        "ran_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1), "machine": machine(),
        "settings": settings_record(settings, pipeline), "figures": figures,
        "details": {"pipeline": warm, "cold_start": cold, "retrieval": retrieval, "answers": answers,
                    "emergency": emergency},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(args.out)
    print_table(figures)
    print(f"\nroutes over {len(PATIENT_QUESTIONS)} questions: {answers['routes']}; retrieval over "
          f"{retrieval['chunks_en']:,} English chunks ({retrieval['source']}); "
          f"took {result['duration_s']}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
