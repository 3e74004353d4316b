"""Knowledge loading: front matter validated, bad files reported by path and field, chunks follow headings."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from chatbot.errors import KnowledgeError
from chatbot.knowledge import (MAX_CHUNK_WORDS, chunk_document, content_hash, documents_to_index, load_knowledge,
                               load_library, overdue, parse_document)

GOOD = """\
---
id: {doc_id}
title: Fever
language: en
summary: A fever is a body temperature higher than normal.
sources:
  - title: "Fever"
    url: https://medlineplus.gov/fever.html
    publisher: MedlinePlus
last_reviewed: 2026-01-15
review_due: 2027-01-15
---

## What it is
Fever is a temperature of 38C or higher.

## What helps
Drink plenty of water and rest.
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_tiny_knowledge_loads_every_topic(tiny_knowledge: Path) -> None:
    report = load_knowledge(tiny_knowledge)
    assert report.problems == ()
    assert sorted((d.language, d.doc_id) for d in report.documents) == [
        ("en", "asthma"), ("en", "fever"), ("en", "high-blood-pressure"), ("es", "fever")]
    fever = next(d for d in report.documents if (d.language, d.doc_id) == ("en", "fever"))
    assert fever.title == "Fever"
    assert fever.sources[0].url == "https://medlineplus.gov/fever.html"
    assert fever.sources[0].publisher == "MedlinePlus"
    assert fever.last_reviewed == datetime.date(2026, 1, 15)
    assert fever.review_due == datetime.date(2027, 1, 15)
    assert fever.origin == "curated"


def test_front_matter_flow_style_sources_and_aliases(tmp_path: Path) -> None:
    text = GOOD.format(doc_id="fever").replace(
        'sources:\n  - title: "Fever"\n    url: https://medlineplus.gov/fever.html\n    publisher: MedlinePlus\n',
        'aliases: [high temperature, feverish]\n'
        'sources:\n  - {title: "Fever", url: "https://medlineplus.gov/fever.html", publisher: MedlinePlus}\n')
    doc = parse_document(write(tmp_path, "en/fever.md", text))
    assert doc.aliases == ("high temperature", "feverish")
    assert doc.sources[0].title == "Fever"


BROKEN = [
    # (what is wrong, how to break the file, the field reported)
    ("no front matter", lambda t: t.split("---\n", 2)[2], "front matter"),
    ("invalid YAML", lambda t: t.replace("title: Fever", "title: [Fever"), "front matter"),
    ("front matter not a mapping", lambda t: "---\n- a\n- b\n---\n\n## X\ntext\n", "front matter"),
    ("id differs from the file name", lambda t: t.replace("id: fever", "id: fevers"), "id"),
    ("id with capitals", lambda t: t.replace("id: fever", "id: Fever"), "id"),
    ("missing title", lambda t: t.replace("title: Fever\n", ""), "title"),
    ("empty summary", lambda t: t.replace("summary: A fever is a body temperature higher than normal.",
                                          "summary: ''"), "summary"),
    ("language differs from the folder", lambda t: t.replace("language: en", "language: es"), "language"),
    ("no sources", lambda t: t.replace(
        'sources:\n  - title: "Fever"\n    url: https://medlineplus.gov/fever.html\n    publisher: MedlinePlus\n',
        "sources: []\n"), "sources"),
    ("http source", lambda t: t.replace("https://medlineplus", "http://medlineplus"), "sources[0].url"),
    ("source without publisher", lambda t: t.replace("    publisher: MedlinePlus\n", ""), "sources[0]"),
    ("bad date", lambda t: t.replace("last_reviewed: 2026-01-15", "last_reviewed: last spring"),
     "last_reviewed"),
    ("review due before reviewed", lambda t: t.replace("review_due: 2027-01-15", "review_due: 2025-01-15"),
     "review_due"),
    ("no sections", lambda t: t.replace("## ", ""), "body"),
    ("aliases not a list", lambda t: t.replace("language: en", "language: en\naliases: feverish"), "aliases"),
    ("unknown origin", lambda t: t.replace("language: en", "language: en\norigin: scraped"), "origin"),
]


@pytest.mark.parametrize("what, breaker, field", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_reported_by_path_and_field_and_the_rest_still_load(
        tmp_path: Path, what: str, breaker, field: str) -> None:
    write(tmp_path, "en/asthma.md", GOOD.format(doc_id="asthma").replace("title: Fever", "title: Asthma"))
    bad = write(tmp_path, "en/fever.md", breaker(GOOD.format(doc_id="fever")))
    report = load_knowledge(tmp_path)
    assert [d.doc_id for d in report.documents] == ["asthma"]
    [problem] = report.problems
    assert problem.path == str(bad)
    assert problem.field == field
    assert str(problem).startswith(f"{bad}: {field}: ")


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "en" / "fever.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"---\nid: fever\ntitle: \xff\xfe\n---\n")
    with pytest.raises(KnowledgeError) as caught:
        parse_document(path)
    assert caught.value.field == "file"


def test_chunks_follow_headings_and_keep_title_and_sources(tiny_knowledge: Path) -> None:
    doc = parse_document(tiny_knowledge / "en" / "fever.md")
    chunks = chunk_document(doc)
    assert [c.section for c in chunks] == ["What it is", "What helps", "When to get help now"]
    assert chunks[0].text == ("Fever is a temperature of 38C or higher. A fever is often a sign that the body is "
                              "fighting an infection.")
    assert {c.title for c in chunks} == {"Fever"}
    assert all(c.sources == doc.sources for c in chunks)
    assert all(c.language == "en" and c.doc_id == "fever" for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert all("##" not in c.text for c in chunks)


def test_a_long_section_is_split_at_paragraphs(tmp_path: Path) -> None:
    paragraph = " ".join(["Drink water and rest."] * 30)  # 120 words
    text = GOOD.format(doc_id="fever").replace("Drink plenty of water and rest.",
                                               f"{paragraph}\n\n{paragraph}\n\n{paragraph}")
    chunks = chunk_document(parse_document(write(tmp_path, "en/fever.md", text)))
    helps = [c for c in chunks if c.section == "What helps"]
    assert len(helps) == 3
    assert all(len(c.text.split()) <= MAX_CHUNK_WORDS for c in helps)
    assert all(c.text == paragraph for c in helps)


def test_empty_sections_make_no_chunks(tmp_path: Path) -> None:
    text = GOOD.format(doc_id="fever").replace("## What helps", "## Empty\n\n## What helps")
    sections = [c.section for c in chunk_document(parse_document(write(tmp_path, "en/fever.md", text)))]
    assert sections == ["What it is", "What helps"]


def test_content_hash_changes_with_the_text_and_only_then(tmp_path: Path) -> None:
    path = write(tmp_path, "en/fever.md", GOOD.format(doc_id="fever"))
    first = content_hash(parse_document(path))
    assert content_hash(parse_document(path)) == first
    path.write_text(GOOD.format(doc_id="fever").replace("38C", "39C"), encoding="utf-8")
    assert content_hash(parse_document(path)) != first
    path.write_text(GOOD.format(doc_id="fever").replace("fever.html", "fever2.html"), encoding="utf-8")
    assert content_hash(parse_document(path)) != first


def test_a_timestamp_instead_of_a_date_is_never_raised(tmp_path: Path) -> None:
    write(tmp_path, "en/asthma.md", GOOD.format(doc_id="asthma").replace("title: Fever", "title: Asthma"))
    write(tmp_path, "en/fever.md", GOOD.format(doc_id="fever").replace("last_reviewed: 2026-01-15",
                                                                       "last_reviewed: 2026-01-15 10:30:00"))
    report = load_knowledge(tmp_path)
    fever = [d for d in report.documents if d.doc_id == "fever"]
    reported = [p for p in report.problems if p.field == "last_reviewed"]
    assert reported or type(fever[0].last_reviewed) is datetime.date
    assert [d.doc_id for d in report.documents if d.doc_id == "asthma"] == ["asthma"]


# ---------------------------------------------------------------------------------------------- origin, review dates
def test_an_imported_document_says_so_in_its_front_matter(tmp_path: Path) -> None:
    text = GOOD.format(doc_id="fever").replace("language: en", "language: en\norigin: imported")
    doc = parse_document(write(tmp_path, "en/fever.md", text))
    assert doc.origin == "imported"
    assert all(chunk.origin == "imported" for chunk in chunk_document(doc))
    assert content_hash(doc) != content_hash(parse_document(write(tmp_path, "es/fever.md", GOOD.format(
        doc_id="fever").replace("language: en", "language: es"))))


def dated(root: Path, doc_id: str, reviewed: str, due: str) -> Path:
    return write(root, f"en/{doc_id}.md", GOOD.format(doc_id=doc_id).replace("2026-01-15", reviewed)
                 .replace("2027-01-15", due))


def test_overdue_lists_documents_past_their_review_date_oldest_first(tmp_path: Path) -> None:
    dated(tmp_path, "asthma", "2025-01-10", "2026-01-10")
    dated(tmp_path, "fever", "2024-03-01", "2025-03-01")
    dated(tmp_path, "cough", "2026-01-15", "2027-01-15")
    dated(tmp_path, "cold", "2025-06-30", "2026-06-30")  # due on the day itself: not overdue yet
    docs = load_knowledge(tmp_path).documents
    assert [d.doc_id for d in overdue(docs, datetime.date(2026, 6, 30))] == ["fever", "asthma"]
    assert [d.doc_id for d in overdue(docs, datetime.date(2024, 1, 1))] == []


def test_overdue_is_relative_to_today_by_default(tmp_path: Path) -> None:
    dated(tmp_path, "fever", "2019-01-01", "2020-01-01")
    dated(tmp_path, "cough", "2026-01-15", "2099-01-15")
    assert [d.doc_id for d in overdue(load_knowledge(tmp_path).documents)] == ["fever"]


def test_documents_to_index_leaves_overdue_ones_out_only_when_asked(tmp_path: Path) -> None:
    dated(tmp_path, "asthma", "2025-01-10", "2026-01-10")
    dated(tmp_path, "cough", "2026-01-15", "2027-01-15")
    docs = load_knowledge(tmp_path).documents
    today = datetime.date(2026, 6, 1)
    assert [d.doc_id for d in documents_to_index(docs, False, today)] == ["asthma", "cough"]
    assert [d.doc_id for d in documents_to_index(docs, True, today)] == ["cough"]


def test_load_library_joins_folders_and_reports_an_id_loaded_twice(tmp_path: Path, tiny_knowledge: Path) -> None:
    imported = tmp_path / "imported"
    write(imported, "en/wound-care.md", GOOD.format(doc_id="wound-care").replace("language: en",
                                                                                 "language: en\norigin: imported"))
    twice = write(imported, "en/fever.md", GOOD.format(doc_id="fever"))
    report = load_library([tiny_knowledge, imported, tmp_path / "not-there"])
    assert sorted((d.language, d.doc_id, d.origin) for d in report.documents) == [
        ("en", "asthma", "curated"), ("en", "fever", "curated"), ("en", "high-blood-pressure", "curated"),
        ("en", "wound-care", "imported"), ("es", "fever", "curated")]
    [problem] = report.problems
    assert (problem.path, problem.field) == (str(twice), "id")
    assert f"already loaded from {tiny_knowledge / 'en' / 'fever.md'}" in str(problem)
