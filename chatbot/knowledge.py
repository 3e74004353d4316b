"""Stage 3a: load curated guidance (`knowledge/<lang>/<id>.md`) and imported material (same format, `origin:
imported`), validate the front matter, chunk by headings."""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from chatbot.errors import KnowledgeError
from chatbot.injection import strip_directives
from chatbot.types import Chunk, Document, Source

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.M)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ORIGINS = ("curated", "imported")
MAX_CHUNK_WORDS = 220  # a longer section is split at paragraph breaks; keeps passages within the prompt budget


@dataclass(frozen=True)
class LoadReport:
    documents: tuple[Document, ...]
    problems: tuple[KnowledgeError, ...]


def load_knowledge(root: Path) -> LoadReport:
    """Every valid document under `root`; each bad file is reported by path and field, never raised."""
    documents, problems = [], []
    for path in sorted(root.glob("*/*.md")):
        try:
            documents.append(parse_document(path))
        except KnowledgeError as problem:
            problems.append(problem)
    return LoadReport(tuple(documents), tuple(problems))


def load_library(roots: Sequence[Path]) -> LoadReport:
    """Every valid document under several folders (curated guidance, then imported material); a folder that does
    not exist holds none. A language/id already loaded from an earlier folder is reported, not loaded twice."""
    documents: dict[tuple[str, str], Document] = {}
    problems: list[KnowledgeError] = []
    for root in roots:
        report = load_knowledge(root) if root.is_dir() else LoadReport((), ())
        problems.extend(report.problems)
        for doc in report.documents:
            first = documents.setdefault((doc.language, doc.doc_id), doc)
            if first is not doc:
                problems.append(KnowledgeError(doc.path, "id", f"'{doc.doc_id}' is already loaded from {first.path}"))
    return LoadReport(tuple(documents.values()), tuple(problems))


def overdue(documents: Iterable[Document], today: datetime.date | None = None) -> tuple[Document, ...]:
    """Documents past their review date, oldest due first (for `chatbot ingest` and a staff view)."""
    today = today or datetime.date.today()
    return tuple(sorted((d for d in documents if d.review_due < today), key=lambda d: (d.review_due, d.path)))


def documents_to_index(documents: Iterable[Document], exclude_overdue: bool,
                       today: datetime.date | None = None) -> tuple[Document, ...]:
    """What the index holds: every document, or (with the `exclude_overdue` setting) those still in review date."""
    today = today or datetime.date.today()
    return tuple(d for d in documents if not (exclude_overdue and d.review_due < today))


def parse_document(path: Path, origin: str = "curated") -> Document:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KnowledgeError(str(path), "file", f"cannot be read ({error.__class__.__name__})") from None
    return parse_text(raw, path, origin)


def parse_text(raw: str, path: Path, origin: str = "curated") -> Document:
    """The document that `raw` would be if it were stored at `path` (which need not exist yet)."""
    match = _FRONT_MATTER.match(raw)
    if not match:
        raise KnowledgeError(str(path), "front matter", "missing: the file must start with a '---' YAML block")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise KnowledgeError(str(path), "front matter", f"invalid YAML ({first_line(error)})") from None
    if not isinstance(meta, dict):
        raise KnowledgeError(str(path), "front matter", "must be a mapping of fields")
    return _document(path, meta, match.group(2), origin)


def _document(path: Path, meta: dict[str, Any], body: str, origin: str) -> Document:
    p = str(path)
    doc_id = _text(meta, "id", p)
    if not _ID.match(doc_id):
        raise KnowledgeError(p, "id", "must be lowercase letters, digits and hyphens")
    if doc_id != path.stem:
        raise KnowledgeError(p, "id", f"'{doc_id}' does not match the file name '{path.stem}'")
    language = _text(meta, "language", p)
    if path.parent.name != language:
        raise KnowledgeError(p, "language", f"'{language}' does not match the folder '{path.parent.name}'")
    reviewed, due = _date(meta, "last_reviewed", p), _date(meta, "review_due", p)
    if due < reviewed:
        raise KnowledgeError(p, "review_due", "is before last_reviewed")
    if not _HEADING.search(body):
        raise KnowledgeError(p, "body", "has no '## ' sections")
    aliases = meta.get("aliases") or []
    if not isinstance(aliases, list):
        raise KnowledgeError(p, "aliases", "must be a list")
    origin = meta.get("origin", origin)
    if origin not in ORIGINS:
        raise KnowledgeError(p, "origin", f"must be one of {', '.join(ORIGINS)}")
    return Document(
        doc_id=doc_id, title=_text(meta, "title", p), language=language, summary=_text(meta, "summary", p),
        sources=_sources(meta, p), last_reviewed=reviewed, review_due=due, body=body.strip(), path=p,
        aliases=tuple(str(a) for a in aliases), origin=origin,
    )


def _text(meta: dict[str, Any], key: str, path: str) -> str:
    value = meta.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(path, key, "is required and must be text")
    return value.strip()


def _date(meta: dict[str, Any], key: str, path: str) -> datetime.date:
    value = meta.get(key)
    if isinstance(value, datetime.datetime):  # YAML reads "2026-01-15 10:30" as a timestamp
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise KnowledgeError(path, key, "must be a date like 2026-11-01") from None


def _sources(meta: dict[str, Any], path: str) -> tuple[Source, ...]:
    raw = meta.get("sources")
    if not isinstance(raw, list) or not raw:
        raise KnowledgeError(path, "sources", "at least one source is required")
    sources = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise KnowledgeError(path, f"sources[{i}]", "must have title, url and publisher")
        url = str(item.get("url", ""))
        if not url.startswith("https://"):
            raise KnowledgeError(path, f"sources[{i}].url", "must be an https:// link")
        title, publisher = str(item.get("title") or "").strip(), str(item.get("publisher") or "").strip()
        if not title or not publisher:
            raise KnowledgeError(path, f"sources[{i}]", "needs a title and a publisher")
        sources.append(Source(title=title, url=url, publisher=publisher))
    return tuple(sources)


def first_line(error: Exception) -> str:
    """The first line of an error's message (its class name when it has none), for one-line reports."""
    return str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__


def chunk_document(doc: Document) -> list[Chunk]:
    """One chunk per `##` section (long sections split at paragraphs); each keeps the title and the sources."""
    chunks: list[Chunk] = []
    for heading, text in _sections(doc.body):
        for part in _split_long(strip_directives(text)[0]):
            chunks.append(Chunk(
                chunk_id=f"{doc.language}/{doc.doc_id}#{len(chunks)}", doc_id=doc.doc_id, title=doc.title,
                section=heading, text=part, language=doc.language, sources=doc.sources, aliases=doc.aliases,
                origin=doc.origin,
            ))
    return chunks


def chunk_documents(docs: Iterable[Document]) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc)]


def _sections(body: str) -> list[tuple[str, str]]:
    marks = list(_HEADING.finditer(body))
    sections = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        text = body[mark.end():end].strip()
        if text:
            sections.append((mark.group(1).strip(), text))
    return sections


def _split_long(text: str) -> list[str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    parts, current = [], []
    for paragraph in paragraphs:
        if current and _words(" ".join(current + [paragraph])) > MAX_CHUNK_WORDS:
            parts.append("\n\n".join(current))
            current = []
        current.append(paragraph)
    if current:
        parts.append("\n\n".join(current))
    return parts


def _words(text: str) -> int:
    return len(text.split()) + len(re.findall(r"[\u4e00-\u9fff]", text)) // 2


def content_hash(doc: Document) -> str:
    """Changes whenever anything that reaches the index changes."""
    payload = "\n".join([doc.doc_id, doc.language, doc.title, doc.summary, "|".join(doc.aliases), doc.body,
                         "|".join(f"{s.title} {s.url} {s.publisher}" for s in doc.sources), doc.origin])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
