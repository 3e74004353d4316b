"""Benchmark corpora: 10,000 chunks for the retrieval benchmark, from MedQuAD (answers split into short chunks)
when the development data is present, otherwise from the real guidance's sentences recombined; and an embedder
that caches chunk vectors on disk between runs."""

from __future__ import annotations

import datetime
import glob
import hashlib
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np

from chatbot.text import split_sentences
from chatbot.types import Document, Source

MEDQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "medquad"
CHUNK_WORDS = 50  # synthetic chunks are short so that embedding 10,000 of them fits the time budget


class CachingEmbedder:
    """The real embedder with an on-disk cache of chunk vectors, so a second benchmark run does not spend minutes
    embedding the same 10,000 synthetic chunks again. Query vectors are never taken from it."""

    def __init__(self, inner, path: Path):
        self.inner, self.path, self.name = inner, path, inner.name
        self.hits = self.misses = 0
        self._vectors: dict[str, np.ndarray] = {}
        if path.exists():
            data = np.load(path)
            self._vectors = dict(zip(data["keys"].tolist(), data["vectors"]))

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        self.hits, self.misses = self.hits + len(keys) - len(missing), self.misses + len(missing)
        if missing:
            fresh = self.inner.embed([texts[i] for i in missing])
            self._vectors.update({keys[i]: v for i, v in zip(missing, fresh)})
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._vectors.update((hashlib.sha1(t.encode("utf-8")).hexdigest(), v) for t, v in zip(texts, vectors))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._vectors)
        np.savez(self.path, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))


def _document(doc_id: str, title: str, sections: list[tuple[str, str]], url: str) -> Document:
    body = "\n\n".join(f"## {heading}\n{text}" for heading, text in sections)
    today = datetime.date.today()
    return Document(doc_id=doc_id, title=title, language="en", summary=title, body=body, path=f"<bench>/{doc_id}",
                    sources=(Source(title, url, "bench"),), last_reviewed=today, review_due=today, origin="imported")


def _pieces(text: str, words: int = CHUNK_WORDS) -> list[str]:
    """Consecutive whole sentences of about `words` words each."""
    pieces, current = [], []
    for sentence in split_sentences(text):
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= words:
            pieces.append(" ".join(current))
            current = []
    if current:
        pieces.append(" ".join(current))
    return pieces


def medquad_documents(limit: int) -> tuple[list[Document], list[str]]:
    """MedQuAD answers split into short chunks (one `##` section each), and its questions for querying."""
    docs, questions, count = [], [], 0
    for path in sorted(glob.glob(str(MEDQUAD / "*" / "*.xml"))):
        root = ET.parse(path).getroot()
        focus = (root.findtext("Focus") or "").strip() or Path(path).stem
        sections = []
        for pair in root.iter("QAPair"):
            question, answer = (pair.findtext("Question") or "").strip(), (pair.findtext("Answer") or "").strip()
            if question and answer:
                questions.append(question)
                sections.extend((question, piece) for piece in _pieces(answer))
        if sections:
            url = (root.get("url") or "https://medlineplus.gov/").replace("http://", "https://", 1)
            docs.append(_document(f"medquad-{Path(path).stem.lower()}", focus, sections, url))
            count += len(sections)
        if count >= limit:
            break
    return docs, questions


def synthetic_documents(real: Sequence[Document], limit: int, seed: int = 7) -> tuple[list[Document], list[str]]:
    """Without MedQuAD: new chunks made by recombining real sentences of one topic."""
    rng, docs = random.Random(seed), []
    english = [d for d in real if d.language == "en"]
    sentences = {d.doc_id: split_sentences(d.body.replace("## ", "")) for d in english}
    for n in range(0, limit, 20):
        doc = rng.choice(english)
        pool = sentences[doc.doc_id]
        sections = [(f"Part {i}", " ".join(rng.sample(pool, min(3, len(pool))))) for i in range(20)]
        docs.append(_document(f"synthetic-{n}", doc.title, sections, doc.sources[0].url))
    questions = [f"What should I know about {d.title.lower()}?" for d in english]
    return docs, questions
