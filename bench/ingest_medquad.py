"""Ingest all of MedQuAD the way `chatbot ingest PATH` does (importers -> import folder -> index of the curated
guidance plus the imported material) into temporary folders, with the real embedder. Measures wall time, chunks per
second, index size on disk, peak RSS, a re-import of unchanged material, and retrieval latency over ~200 MedQuAD
questions on that index (with how often the question's own document is among the passages).

Writes bench/results/ingest_medquad.json. `make bench-ingest`; takes several minutes on a CPU.
Usage: python bench/ingest_medquad.py [--medquad DIR] [--queries 200] [--out bench/results/ingest_medquad.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from chatbot.config import Settings  # noqa: E402
from chatbot.embedding import embedder_from_settings  # noqa: E402
from chatbot.importers import ImportOptions, import_paths  # noqa: E402
from chatbot.index import KnowledgeIndex, ensure_index, search_dense, search_lexical  # noqa: E402
from chatbot.knowledge import documents_to_index, load_library  # noqa: E402
from chatbot.retrieval import CANDIDATES, Retriever  # noqa: E402
from chatbot.text import tokens  # noqa: E402
from chatbot.types import Document  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MEDQUAD = ROOT.parent / "shared" / "data" / "medquad"
HEADING = re.compile(r"^##\s+(.+?)\s*$", re.M)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def sample_questions(documents: list[Document], n: int) -> list[tuple[str, str]]:
    """(question, the id of the document that answers it): MedQuAD's questions are the imported sections' headings."""
    pairs = [(heading, doc.doc_id) for doc in documents if doc.origin == "imported"
             for heading in HEADING.findall(doc.body)]
    return random.Random(7).sample(pairs, min(n, len(pairs)))


def summary(timings: list[float]) -> dict[str, float]:
    ms = np.asarray(timings)
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2),
            "max": round(float(ms.max()), 2), "mean": round(float(ms.mean()), 2)}


def retrieval(index: KnowledgeIndex, embedder, settings: Settings, questions: list[tuple[str, str]]) -> dict:
    """Whole `Retriever.retrieve` calls, then its two parts apart: the query embedding and the index searches."""
    retriever = Retriever(index, embedder, settings.top_k, settings.min_relevance, "en")
    for question, _ in questions[:5]:  # warm the lazy paths
        retriever.retrieve(question, "en")
    timings, embedding, searching, found, relevant = [], [], [], 0, 0
    english = index.languages["en"]
    for question, doc_id in questions:
        started = time.perf_counter()
        result = retriever.retrieve(question, "en")
        timings.append((time.perf_counter() - started) * 1000)
        relevant += result.relevant
        found += any(p.chunk.doc_id == doc_id for p in result.passages)
        started = time.perf_counter()
        vector = embedder.embed([question])[0]
        embedding.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        search_dense(english, vector, CANDIDATES), search_lexical(english, tokens(question), CANDIDATES)
        searching.append((time.perf_counter() - started) * 1000)
    return {"queries": len(timings), "top_k": settings.top_k, "ms": summary(timings),
            "query_embedding_ms": summary(embedding), "index_search_ms": summary(searching),
            "own_document_in_top_k": round(found / len(timings), 3), "relevant_share": round(relevant / len(timings), 3)}


def run(medquad: Path, n_queries: int) -> dict:
    settings = Settings.load()
    embedder = embedder_from_settings(settings)
    embedder.embed(["load the model before the clock starts"])
    with tempfile.TemporaryDirectory(prefix="ingest-medquad-") as tmp:
        import_dir, index_dir = Path(tmp) / "imported", Path(tmp) / "index"
        options = ImportOptions(datetime.date.today())
        started = time.perf_counter()
        report, import_s = timed(lambda: import_paths([medquad], import_dir, options))
        library, load_s = timed(lambda: load_library([settings.knowledge_dir, import_dir]))
        documents = documents_to_index(library.documents, settings.exclude_overdue)
        (index, info), index_s = timed(lambda: ensure_index(index_dir, documents, embedder))
        wall_s = time.perf_counter() - started
        again, reimport_s = timed(lambda: import_paths([medquad], import_dir, options))
        (_, reloaded), reload_s = timed(lambda: ensure_index(index_dir, documents, embedder))
        imported_docs = [d for d in library.documents if d.origin == "imported"]
        return {
            "what": "chatbot ingest of all MedQuAD (importers + index of curated + imported) with the real embedder",
            "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "embedder": embedder.name, "embedder_dtype": settings.embedder_dtype,
            "import": {"summary": report.summary(), "skipped_reasons": sorted({p.reason for p in report.skipped}),
                       "seconds": round(import_s, 1), "folder_mb": round(folder_bytes(import_dir) / 2**20, 1)},
            "documents": {"imported": len(imported_docs), "curated": len(library.documents) - len(imported_docs),
                          "load_problems": len(library.problems), "load_s": round(load_s, 1)},
            "index": {"status": info.status, "documents": info.document_count, "chunks": info.chunk_count,
                      "seconds": round(index_s, 1), "chunks_per_s": round(info.chunk_count / index_s, 1),
                      "size_mb": round(folder_bytes(index_dir) / 2**20, 1)},
            "wall_s": round(wall_s, 1), "chunks_per_s_overall": round(info.chunk_count / wall_s, 1),
            "reimport_unchanged": {"summary": again.summary(), "seconds": round(reimport_s, 1),
                                   "index_status": reloaded.status, "index_load_s": round(reload_s, 1)},
            "retrieval": retrieval(index, embedder, settings, sample_questions(imported_docs, n_queries)),
            "peak_rss_mb": peak_rss_mb(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews timings
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medquad", type=Path, default=MEDQUAD)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest_medquad.json")
    args = parser.parse_args()
    if not args.medquad.is_dir():
        print(f"MedQuAD is not at {args.medquad} (see its SOURCE.txt); nothing to measure.", file=sys.stderr)
        return 2
    result = run(args.medquad, args.queries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
