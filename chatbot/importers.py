"""`chatbot ingest PATH...`: outside material into the import folder, as Markdown documents in the knowledge format
marked `origin: imported`. Reads Markdown folders in our format, HTML pages (main text by trafilatura), PDF
leaflets (pypdf), MedlinePlus health-topic XML and MedQuAD XML. Each document keeps its title, language and source
link; a broken file is reported by path with a one-line reason and skipped, the rest goes in; a document whose
content did not change is left as it is."""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from urllib.parse import urlparse

import yaml

from chatbot.errors import ImportProblem, KnowledgeError
from chatbot.knowledge import content_hash, first_line, parse_document, parse_text
from chatbot.types import Document, Source

log = logging.getLogger(__name__)
IMPORT_REVIEW_DAYS = 365  # imported material is due for a staff review a year after it came in
SUFFIXES = (".md", ".html", ".htm", ".pdf", ".xml")
MIN_WORDS = 20  # less main text than this is a navigation page or an empty shell, not guidance
LANGUAGE_NAMES = {"english": "en", "spanish": "es", "español": "es", "chinese": "zh", "中文": "zh"}
SUMMARY_HEADING = {"en": "Summary", "es": "Resumen", "zh": "概述"}
MEDQUAD_PUBLISHERS = {
    "CancerGov": "National Cancer Institute", "CDC": "CDC", "GARD": "Genetic and Rare Diseases Information Center (NIH)",
    "GHR": "Genetics Home Reference (NLM)", "MPlusHealthTopics": "MedlinePlus", "NHLBI": "NHLBI (NIH)",
    "NIDDK": "NIDDK (NIH)", "NIHSeniorHealth": "NIHSeniorHealth (NIH)", "NINDS": "NINDS (NIH)",
}


@dataclass(frozen=True)
class Material:
    """One document read from outside, before it is stored."""

    doc_id: str
    title: str
    language: str
    summary: str
    sources: tuple[Source, ...]
    body: str  # `## heading` sections, as in a knowledge file
    origin_path: str
    aliases: tuple[str, ...] = ()
    last_reviewed: datetime.date | None = None  # kept from Markdown in our format; otherwise the import date
    review_due: datetime.date | None = None


@dataclass(frozen=True)
class ImportOptions:
    today: datetime.date
    source_url: str | None = None  # for files that carry no link of their own (PDF leaflets, saved pages)
    publisher: str | None = None


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[ImportProblem] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.skipped)} skipped")


# ---------------------------------------------------------------------------------------------- the import
def import_paths(paths: Sequence[Path], import_dir: Path, options: ImportOptions,
                 reserved: Iterable[tuple[str, str]] = ()) -> ImportReport:
    """Read every supported file under `paths` and store what changed under `import_dir/<lang>/<id>.md`.
    `reserved` holds (language, id) pairs taken by curated topics, which an import never replaces."""
    report, taken = ImportReport(), set(reserved)
    seen: dict[tuple[str, str], str] = {}
    for path in _files(paths, report):
        try:
            items = list(read_file(path, options))
        except ImportProblem as problem:
            report.skipped.append(problem)
            continue
        except Exception as error:  # a library's surprise on one odd file must not stop the others
            if os.environ.get("CHATBOT_RAISE_ERRORS"):
                raise
            log.error("importing %s: unexpected %s", path, error.__class__.__name__)
            report.skipped.append(ImportProblem(str(path), f"could not be read ({error.__class__.__name__})"))
            continue
        for item in items:
            if isinstance(item, ImportProblem):
                report.skipped.append(item)
                continue
            key = (item.language, item.doc_id)
            if key in taken:
                report.skipped.append(ImportProblem(item.origin_path, f"'{item.doc_id}' is a curated topic's id"))
            elif key in seen:
                report.skipped.append(ImportProblem(item.origin_path, f"'{item.language}/{item.doc_id}' was "
                                                                      f"already imported from {seen[key]}"))
            else:
                seen[key] = item.origin_path
                _store(item, import_dir, options.today, report)
    return report


def _files(paths: Sequence[Path], report: ImportReport) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                              and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif not path.exists():
            report.skipped.append(ImportProblem(str(path), "does not exist"))
        elif path.suffix.lower() not in SUFFIXES:
            report.skipped.append(ImportProblem(str(path), f"is not a supported file ({', '.join(SUFFIXES)})"))
        else:
            yield path


def _store(item: Material, import_dir: Path, today: datetime.date, report: ImportReport) -> None:
    reviewed = item.last_reviewed or today
    due = item.review_due or reviewed + datetime.timedelta(days=IMPORT_REVIEW_DAYS)
    target = import_dir / item.language / f"{item.doc_id}.md"
    text = render(item, reviewed, due)
    try:
        new = parse_text(text, target)
    except KnowledgeError as error:
        report.skipped.append(ImportProblem(item.origin_path, _reason(error)))
        return
    key = f"{item.language}/{item.doc_id}"
    if target.exists():
        if _same(target, new, item):
            report.unchanged.append(key)
            return
        report.updated.append(key)
    else:
        report.added.append(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)  # a crash never leaves half a document


def _same(target: Path, new: Document, item: Material) -> bool:
    """Unchanged content keeps the stored file (and its import date); explicit review dates count as content."""
    try:
        old = parse_document(target)
    except KnowledgeError:
        return False
    dates_match = item.last_reviewed is None or (old.last_reviewed, old.review_due) == (new.last_reviewed,
                                                                                         new.review_due)
    return content_hash(old) == content_hash(new) and dates_match


def render(item: Material, reviewed: datetime.date, due: datetime.date) -> str:
    """The document in the knowledge format: YAML front matter, then one `## ` section per heading."""
    meta = {"id": item.doc_id, "title": item.title, "language": item.language, "summary": item.summary,
            "origin": "imported"}
    if item.aliases:
        meta["aliases"] = list(item.aliases)
    meta["sources"] = [{"title": s.title, "url": s.url, "publisher": s.publisher} for s in item.sources]
    meta.update(last_reviewed=reviewed, review_due=due)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{head}---\n\n{item.body}\n"


def _body(sections: Iterable[tuple[str, str]]) -> str:
    return "\n\n".join(f"## {heading}\n{text}" for heading, text in sections)


# ---------------------------------------------------------------------------------------------- the formats
def read_file(path: Path, options: ImportOptions) -> Iterator[Material | ImportProblem]:
    """The documents in one file; raises ImportProblem when the whole file cannot be used."""
    suffix = path.suffix.lower()
    if suffix == ".md":
        return iter([_markdown(path)])
    if suffix in (".html", ".htm"):
        return iter([_html(path, options)])
    if suffix == ".pdf":
        return iter([_pdf(path, options)])
    return _xml(path)


def _markdown(path: Path) -> Material:
    try:
        doc = parse_document(path)
    except KnowledgeError as error:
        raise ImportProblem(str(path), _reason(error)) from None
    return Material(doc.doc_id, doc.title, doc.language, doc.summary, doc.sources, doc.body, str(path), doc.aliases,
                    doc.last_reviewed, doc.review_due)


def _html(path: Path, options: ImportOptions) -> Material:
    import trafilatura

    html = _read_text(path)
    text = trafilatura.extract(html, output_format="markdown", include_formatting=True, include_links=False,
                               include_images=False, include_comments=False, favor_precision=True)
    if not text or len(text.split()) < MIN_WORDS:
        raise ImportProblem(str(path), "no main text found (is it a navigation page or an empty shell?)")
    meta = trafilatura.extract_metadata(html)
    title = _one_line((meta.title if meta else None) or path.stem.replace("-", " "))
    url = _source_url(path, meta.url if meta else None, options)
    publisher = options.publisher or (meta.sitename if meta else None) or _host(url)
    language = _language_code(_html_lang(html)) or _detect(text)
    sections = _markdown_sections(text, title)
    return Material(_file_id(url, path), title, language, _summary(sections), (Source(title, url, publisher),),
                    _body(sections), str(path))


def _pdf(path: Path, options: ImportOptions) -> Material:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ImportProblem(str(path), "is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except ImportProblem:
        raise
    except Exception as error:  # pypdf raises many kinds for a damaged file; any of them means "cannot be read"
        raise ImportProblem(str(path), f"is not a readable PDF ({error.__class__.__name__})") from None
    lines = [line.strip() for line in "\n".join(pages).splitlines()]
    if len(" ".join(lines).split()) < MIN_WORDS:
        raise ImportProblem(str(path), "has no text layer to read (a scanned image?)")
    first = next(i for i, line in enumerate(lines) if line)
    title = _one_line(meta_title or "")
    if not title or re.search(r"^Microsoft \w+ - |\.(docx?|pdf)$", title):  # a file name, not a title
        title = _one_line(lines[first])
    if _one_line(lines[first]) == title:
        lines = lines[first + 1:]
    url = _source_url(path, None, options)
    sections = ((title, _paragraphs(lines)),)
    return Material(_file_id(url, path), title, _detect(sections[0][1]), _summary(sections),
                    (Source(title, url, options.publisher or _host(url)),), _body(sections), str(path))


def _xml(path: Path) -> Iterator[Material | ImportProblem]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except (etree.XMLSyntaxError, OSError) as error:
        raise ImportProblem(str(path), f"is not well-formed XML ({first_line(error)})") from None
    if root.tag in ("health-topics", "health-topic"):
        return _medlineplus(root, path)
    if root.find("QAPairs") is not None or root.find("qaPairs") is not None:  # MedQuAD: <Document>, <DiseaseFile>,
        return iter([_medquad(root, path)])                                  # or <doc> in a few files
    raise ImportProblem(str(path), f"is neither MedlinePlus health-topics nor MedQuAD XML (root <{root.tag}>)")


def _medlineplus(root, path: Path) -> Iterator[Material | ImportProblem]:
    topics = [root] if root.tag == "health-topic" else root.iter("health-topic")
    for topic in topics:
        where = f"{path} (topic {topic.get('title') or topic.get('id') or '?'!r})"
        try:
            yield _medlineplus_topic(topic, where)
        except ImportProblem as problem:
            yield problem


def _medlineplus_topic(topic, where: str) -> Material:
    title, url = _one_line(topic.get("title") or ""), _https(topic.get("url"))
    if not title or not url:
        raise ImportProblem(where, "has no title or url")
    language = _language_code(topic.get("language")) or "en"
    text = _html_fragment_text(topic.findtext("full-summary") or "")
    if len(text.split()) < 5:
        raise ImportProblem(where, "has no full-summary")
    aliases = _unique([_one_line(e.text or "") for e in topic if e.tag in ("also-called", "see-reference")])
    sections = ((SUMMARY_HEADING.get(language, title), text),)
    summary = _one_line(topic.get("meta-desc") or "") or _summary(sections)
    doc_id = "medlineplus-" + _slug(Path(urlparse(url).path).stem or title)
    return Material(doc_id[:80].strip("-"), title, language, summary, (Source(title, url, "MedlinePlus"),),
                    _body(sections), where, tuple(a for a in aliases if a and a != title))


def _medquad(root, path: Path) -> Material:
    url = _https(root.get("url"))
    if not url:
        raise ImportProblem(str(path), "has no https or http url")
    sections = []
    for pair in [*root.iter("QAPair"), *root.iter("pair")]:
        question = _one_line(pair.findtext("Question") or pair.findtext("question") or "")
        answer = _medquad_answer(pair.findtext("Answer") or pair.findtext("answer") or "")
        if question and answer:
            sections.append((question, answer))
    if not sections:
        raise ImportProblem(str(path), "has no answered questions")
    focus = _one_line(root.findtext("Focus") or root.findtext("doctitle-focus") or "") or sections[0][0]
    source = root.get("source") or root.get("corpus") or "MedQuAD"
    doc_id = f"medquad-{_slug(source)}-{_slug(path.stem)}"  # file names are unique per source; ids are not
    return Material(doc_id[:80].strip("-"), focus, "en", _summary(sections),
                    (Source(focus, url, MEDQUAD_PUBLISHERS.get(source, source)),), _body(sections), str(path))


# ---------------------------------------------------------------------------------------------- text helpers
def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # old pages saved by Windows browsers


def _markdown_sections(text: str, title: str) -> tuple[tuple[str, str], ...]:
    """trafilatura's Markdown into (heading, text): any heading level starts a section; text before the first
    heading goes under the title; a first heading that repeats the title is dropped."""
    sections: list[tuple[str, list[str]]] = [(title, [])]
    for line in text.splitlines():
        heading = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if heading:
            name = _one_line(heading.group(1).replace("**", ""))
            if not (name == title and not any(l.strip() for l in sections[-1][1])):
                sections.append((name, []))
        else:
            sections[-1][1].append(line.rstrip())
    out = [(h, _tidy("\n".join(lines))) for h, lines in sections]
    return tuple((h, t) for h, t in out if t)


def _html_fragment_text(html: str) -> str:
    """MedlinePlus's summary HTML (p, ul/li, a, em) as paragraphs and list lines; the attribution line is dropped."""
    import lxml.html

    if not html.strip():
        return ""
    container = lxml.html.fragment_fromstring(html, create_parent="div")
    blocks = [container.text or ""]
    for element in container:
        if element.tag == "p" and (element.get("style") or element.get("class") == "attribution"):
            pass
        elif element.tag in ("ul", "ol"):
            blocks.append("\n".join(f"- {_one_line(li.text_content())}" for li in element if li.tag == "li"))
        else:
            blocks.append(element.text_content())
        blocks.append(element.tail or "")
    return _tidy("\n\n".join(b.strip() for b in blocks if b.strip()))


def _medquad_answer(text: str) -> str:
    """MedQuAD answers run paragraphs and list items together with runs of spaces: give them back their breaks."""
    parts = re.split(r"\s*\n\s*\n\s*|\s{3,}", re.sub(r"^Summary\s*:\s*", "", text.strip()))
    return _tidy("\n\n".join(" ".join(p.split()) for p in parts if p.strip()))


def _paragraphs(lines: list[str]) -> str:
    """PDF text lines into paragraphs: a blank line or a line that ends a sentence closes one."""
    paragraphs, current = [], []
    for line in lines:
        line = re.sub(r"^[•▪●◦]\s*", "- ", line)
        if line.startswith("- ") and current:
            paragraphs.append(" ".join(current))
            current = []
        if line:
            current.append(line)
        if current and (not line or re.search(r"[.!?:。！？：]$", line)):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return _tidy("\n\n".join(paragraphs))


def _tidy(text: str) -> str:
    """No line may start a heading or close the front matter; no more than one blank line in a row."""
    lines = [re.sub(r"^(#+|-{3,})\s*", "", line.rstrip()) if re.match(r"^(#|-{3,})", line) else line.rstrip()
             for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _summary(sections: Sequence[tuple[str, str]]) -> str:
    first = next((line for _, text in sections for line in text.splitlines() if len(line.split()) > 3), "")
    first = first or sections[0][1]
    sentence = re.split(r"(?<=[.!?。！？])\s*", _one_line(first.lstrip("- ")), maxsplit=1)[0]
    return sentence[:300].strip() or sections[0][0]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return list(seen.values())


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug or hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def _https(url: str | None) -> str | None:
    """Source links must be https: an http link to the same page is upgraded (every publisher we import serves it)."""
    url = (url or "").strip()
    if url.startswith("http://"):
        url = "https://" + url[len("http://"):]
    return url if url.startswith("https://") and urlparse(url).hostname else None


def _file_id(url: str, path: Path) -> str:
    """A page or leaflet is named by its site and file name: stable across re-imports, apart from curated ids."""
    return f"{_slug(_host(url))}-{_slug(path.stem)}"[:80].strip("-")


def _reason(error: KnowledgeError) -> str:
    return str(error).removeprefix(f"{error.path}: ")


def _host(url: str) -> str:
    host = urlparse(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def _source_url(path: Path, found: str | None, options: ImportOptions) -> str:
    url = _https(found) or _https(options.source_url)
    if not url:
        raise ImportProblem(str(path), "has no https source link: give --source-url (or the page's canonical link)")
    return url


def _html_lang(html: str) -> str | None:
    match = re.search(r"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", html[:5000], re.I)
    return match.group(1) if match else None


def _language_code(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    if value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    code = re.split(r"[-_]", value)[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _detect(text: str) -> str:
    from chatbot.language import detect_language

    return detect_language(text[:3000], "en")
