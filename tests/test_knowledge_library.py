"""The shipped library itself: every topic loads, and every topic tells patients when to get help now."""

import re

import pytest

from chatbot.config import Settings
from chatbot.knowledge import chunk_document, load_knowledge

HELP_NOW = {"en": "When to get help now", "es": "Cuándo buscar ayuda de inmediato", "zh": "何时立即求助"}


@pytest.fixture(scope="module")
def library():
    return load_knowledge(Settings().knowledge_dir)


def test_every_topic_loads(library):
    assert not library.problems, "\n".join(str(p) for p in library.problems)
    assert sum(d.language == "en" for d in library.documents) >= 12


def test_translations_have_an_english_topic(library):
    english = {d.doc_id for d in library.documents if d.language == "en"}
    orphans = [d.path for d in library.documents if d.language != "en" and d.doc_id not in english]
    assert not orphans


def test_every_topic_ends_with_when_to_get_help_now(library):
    for doc in library.documents:
        headings = re.findall(r"^##\s+(.+?)\s*$", doc.body, re.M)
        assert headings[-1] == HELP_NOW[doc.language], doc.path


def test_review_is_due_after_it_was_done(library):
    for doc in library.documents:
        assert doc.review_due > doc.last_reviewed, doc.path


def test_chunks_keep_title_and_sources(library):
    for doc in library.documents[:20]:
        for chunk in chunk_document(doc):
            assert chunk.title == doc.title and chunk.sources == doc.sources
            assert all(s.url.startswith("https://") for s in chunk.sources)


def test_no_individual_doses_in_guidance(library):
    """Guidance never sets a medicine dose (mg amounts belong to the label and the pharmacist)."""
    dose = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|milligrams?|micrograms?|毫克)\b(?!\s?/)", re.IGNORECASE)  # mg/dL is a lab value
    offenders = [d.path for d in library.documents if dose.search(d.body)]
    assert not offenders
