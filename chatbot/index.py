"""Stage 3b: the search index. Per language: a FAISS inner-product index over normalised embeddings and a BM25
index over the same chunks. Saved to a folder with a manifest (embedder, dimension, content hashes)."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import bm25s
import faiss
import numpy as np

from chatbot.embedding import Embedder
from chatbot.errors import IndexProblem
from chatbot.knowledge import chunk_documents, content_hash
from chatbot.text import tokens
from chatbot.types import Chunk, Document, Source

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)
# one query is a small search: FAISS's own threads only compete with torch for the cores (p95 26 ms -> ~13 ms)
faiss.omp_set_num_threads(1)
FORMAT = 2
MANIFEST = "manifest.json"


@dataclass
class LanguageIndex:
    chunks: list[Chunk]
    dense: faiss.Index
    lexical: bm25s.BM25


@dataclass(frozen=True)
class IndexInfo:
    status: str  # "loaded", "built" or "rebuilt: <why>"
    built_at: str
    embedder: str
    dim: int
    chunk_count: int
    document_count: int
    version: str  # short hash of the content: which knowledge the answers came from


class KnowledgeIndex:
    def __init__(self, languages: dict[str, LanguageIndex], manifest: dict):
        self.languages = languages
        self.manifest = manifest

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def chunk_count(self) -> int:
        return sum(len(li.chunks) for li in self.languages.values())


def dense_text(chunk: Chunk) -> str:
    return f"{chunk.title}. {chunk.section}. {chunk.text}"


def lexical_text(chunk: Chunk) -> str:
    return f"{chunk.title} {chunk.title} {' '.join(chunk.aliases)} {chunk.section} {chunk.text}"


def document_hashes(docs: Sequence[Document]) -> dict[str, str]:
    return {f"{d.language}/{d.doc_id}": content_hash(d) for d in docs}


def build_index(docs: Sequence[Document], embedder: Embedder) -> KnowledgeIndex:
    chunks = chunk_documents(docs)
    by_language: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_language.setdefault(chunk.language, []).append(chunk)
    languages = {}
    for lang, lang_chunks in sorted(by_language.items()):
        vectors = embedder.embed([dense_text(c) for c in lang_chunks])
        dense = faiss.IndexFlatIP(vectors.shape[1])
        dense.add(vectors)
        languages[lang] = LanguageIndex(lang_chunks, dense, _bm25([lexical_text(c) for c in lang_chunks]))
    hashes = document_hashes(docs)
    manifest = {
        "format": FORMAT, "embedder": embedder.name, "dim": int(embedder.dim),
        "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "documents": hashes, "chunk_count": len(chunks),
        "version": hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12],
        "languages": {lang: len(li.chunks) for lang, li in languages.items()},
    }
    return KnowledgeIndex(languages, manifest)


def _bm25(texts: list[str]) -> bm25s.BM25:
    corpus = [tokens(t) or ["\u2400"] for t in texts]  # a placeholder token keeps token-less chunks indexable
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return retriever


def save_index(index: KnowledgeIndex, folder: Path) -> None:
    """Write to a sibling temp folder, then swap, so a crash never leaves a half-written index."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for lang, li in index.languages.items():
        faiss.write_index(li.dense, str(tmp / f"{lang}.faiss"))
        li.lexical.save(str(tmp / f"{lang}.bm25"))
        with open(tmp / f"{lang}.chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in li.chunks:
                out.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    (tmp / MANIFEST).write_text(json.dumps(index.manifest, indent=1, sort_keys=True), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def load_index(folder: Path, embedder: Embedder, docs: Sequence[Document] | None = None) -> KnowledgeIndex:
    """Load a saved index; raise IndexProblem("missing" | "stale" | "corrupt", detail) when it cannot be used."""
    manifest = _read_manifest(folder)
    if manifest.get("format") != FORMAT:
        raise IndexProblem("stale", f"it was written in format {manifest.get('format')}, this version reads {FORMAT}")
    if manifest.get("embedder") != embedder.name or manifest.get("dim") != embedder.dim:
        raise IndexProblem("stale", f"it was built with embedder {manifest.get('embedder')} "
                                    f"(dim {manifest.get('dim')}), the current one is {embedder.name}")
    if docs is not None and manifest.get("documents") != document_hashes(docs):
        raise IndexProblem("stale", _describe_change(manifest.get("documents") or {}, document_hashes(docs)))
    languages = {}
    try:
        for lang, count in manifest["languages"].items():
            chunks = [_chunk(json.loads(line)) for line in
                      (folder / f"{lang}.chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            dense = faiss.read_index(str(folder / f"{lang}.faiss"))
            lexical = bm25s.BM25.load(str(folder / f"{lang}.bm25"))
            if len(chunks) != count or dense.ntotal != count or dense.d != embedder.dim:
                raise ValueError(f"{lang}: counts do not match the manifest")
            languages[lang] = LanguageIndex(chunks, dense, lexical)
    except Exception as error:  # any unreadable part means the folder cannot be trusted
        raise IndexProblem("corrupt", f"{folder}: {error.__class__.__name__}: {error}") from None
    return KnowledgeIndex(languages, manifest)


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.exists():
        raise IndexProblem("missing", f"no index at {folder}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
        return manifest
    except (ValueError, OSError) as error:
        raise IndexProblem("corrupt", f"{path} cannot be read ({error})") from None


def _chunk(data: dict) -> Chunk:
    data["sources"] = tuple(Source(**s) for s in data["sources"])
    data["aliases"] = tuple(data.get("aliases") or ())
    return Chunk(**data)


def _describe_change(old: dict[str, str], new: dict[str, str]) -> str:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    parts = [f"{label} {len(keys)} ({', '.join(keys[:3])}{'...' if len(keys) > 3 else ''})"
             for label, keys in (("added", added), ("removed", removed), ("changed", changed)) if keys]
    return "the knowledge changed since it was built: " + "; ".join(parts)


def ensure_index(folder: Path, docs: Sequence[Document], embedder: Embedder) -> tuple[KnowledgeIndex, IndexInfo]:
    """Load the saved index when it matches the knowledge; otherwise say why and rebuild it."""
    try:
        index, status = load_index(folder, embedder, docs), "loaded"
    except IndexProblem as problem:
        if problem.reason != "missing":
            log.warning("%s; rebuilding it", problem)
        index = build_index(docs, embedder)
        save_index(index, folder)
        status = "built" if problem.reason == "missing" else f"rebuilt: {problem}"
    m = index.manifest
    info = IndexInfo(status, m["built_at"], m["embedder"], m["dim"], m["chunk_count"], len(m["documents"]),
                     m["version"])
    return index, info


def search_dense(li: LanguageIndex, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, li.dense.ntotal)
    if k == 0:
        return []
    scores, ids = li.dense.search(vector.reshape(1, -1).astype(np.float32), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def search_lexical(li: LanguageIndex, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
    k = min(k, len(li.chunks))
    if not query_tokens or k == 0:
        return []
    ids, scores = li.lexical.retrieve([query_tokens], k=k, show_progress=False, n_threads=1)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]
