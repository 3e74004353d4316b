"""The shipped library itself (`knowledge/` only, never imported material): every topic loads, cites recognised
public-health publishers, is due for review in the future, reads at grade 8 or below, and tells patients when to
get help now."""

import collections
import datetime
import os
import re
import warnings
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from chatbot.config import Settings
from chatbot.knowledge import chunk_document, load_knowledge

with warnings.catch_warnings():  # textstat 0.7.4 and jieba import the deprecated pkg_resources
    warnings.simplefilter("ignore")
    import jieba
    import textstat

HELP_NOW = {"en": "When to get help now", "es": "Cuándo buscar ayuda de inmediato", "zh": "何时立即求助"}
LANGUAGES = set(HELP_NOW)
KNOWLEDGE = Settings().knowledge_dir
# Reading level, grade 8 or below in each language:
MAX_FK_GRADE = 8.0  # English: Flesch-Kincaid grade
MIN_FERNANDEZ_HUERTA = 60.0  # Spanish: 60-70 is "normal" on Fernández Huerta's scale, school grades 7-8
MAX_MEAN_SENTENCE_HAN = 20  # Chinese: characters per sentence (to 。！？；), on average ...
MAX_SENTENCE_HAN = 40  # ... and at most
COMMON_CHARACTERS = 3000  # about the characters a reader knows by the end of primary school (grade 6)
MIN_COMMON_SHARE = 0.97  # share of a topic's characters among them (its own title's characters excepted)
_HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def library():
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="module")
def documents(library):
    return [d for d in library.documents if d.origin == "curated"]


def plain_text(body: str) -> str:
    """The body as a reader reads it: no headings, list marks or emphasis; each line (a list item too) a sentence."""
    lines = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^([-*+]|\d+[.)])\s+", "", line)
        line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", re.sub(r"\*\*|__|`", "", line))
        if not re.search(r"[.!?:;。！？：；]$", line):
            line += "。" if _HAN.search(line) else "."
        lines.append(line)
    return "\n".join(lines)


def reading_score(text: str, language: str) -> float:
    """Flesch-Kincaid grade (en) or Fernández Huerta ease (es); textstat's language is global, so set it each time."""
    textstat.set_lang("es" if language == "es" else "en_US")
    try:
        return textstat.fernandez_huerta(text) if language == "es" else textstat.flesch_kincaid_grade(text)
    finally:
        textstat.set_lang("en_US")


def chinese_sentences(text: str) -> list[int]:
    """Han characters in each sentence (split at 。！？； and line ends)."""
    return [n for n in (len(_HAN.findall(s)) for s in re.split(r"[。！？；!?;\n]+", text)) if n]


@pytest.fixture(scope="module")
def common_characters() -> set[str]:
    """The most frequent Han characters in jieba's word-frequency dictionary (a large modern-Chinese corpus)."""
    counts: collections.Counter[str] = collections.Counter()
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as lines:
        for line in lines:
            word, freq = line.split()[:2]
            for char in _HAN.findall(word):
                counts[char] += int(freq)
    return {char for char, _ in counts.most_common(COMMON_CHARACTERS)}


def test_every_topic_loads(library, documents):
    assert not library.problems, "\n".join(str(p) for p in library.problems)
    assert len(documents) == len(library.documents), "imported material does not belong in knowledge/"
    assert sum(d.language == "en" for d in documents) >= 12


def test_every_file_is_a_topic_in_a_known_language():
    """A stray file would be skipped silently by the loader: only <lang>/<id>.md and the publisher list belong."""
    stray = [str(p.relative_to(KNOWLEDGE)) for p in KNOWLEDGE.rglob("*") if p.is_file()
             and p.name != "publishers.yaml" and not (p.suffix == ".md" and p.parent.parent == KNOWLEDGE
                                                     and p.parent.name in LANGUAGES)]
    assert not stray


def test_ids_are_unique_per_language(documents):
    for language in LANGUAGES:
        ids = collections.Counter(d.doc_id.lower() for d in documents if d.language == language)
        assert not [i for i, n in ids.items() if n > 1], language


def test_translations_have_an_english_topic(documents):
    english = {d.doc_id for d in documents if d.language == "en"}
    orphans = [d.path for d in documents if d.language != "en" and d.doc_id not in english]
    assert not orphans


def test_every_topic_ends_with_when_to_get_help_now(documents):
    for doc in documents:
        headings = re.findall(r"^##\s+(.+?)\s*$", doc.body, re.M)
        assert headings[-1] == HELP_NOW[doc.language], doc.path


def test_review_is_due_after_it_was_done(documents):
    for doc in documents:
        assert doc.review_due > doc.last_reviewed, doc.path


def test_reviews_are_dated_today_or_earlier_and_due_in_the_future(documents):
    today = datetime.date.today()
    reviewed_later = [f"{d.path} ({d.last_reviewed})" for d in documents if d.last_reviewed > today]
    overdue = [f"{d.path} (due {d.review_due})" for d in documents if d.review_due <= today]
    assert not reviewed_later, "last_reviewed in the future"
    assert not overdue, "review these topics and move review_due on"


@pytest.fixture(scope="module")
def publisher_hosts() -> set[str]:
    data = yaml.safe_load((KNOWLEDGE / "publishers.yaml").read_text(encoding="utf-8"))
    hosts = {host for publisher in data["publishers"] for host in publisher["hosts"]}
    assert hosts and all(re.fullmatch(r"[a-z0-9.-]+\.[a-z]+", h) for h in hosts)
    return hosts


def on_allowlist(url: str, hosts: set[str]) -> bool:
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    return parsed.scheme == "https" and any(host == h or host.endswith("." + h) for h in hosts)


def test_the_allowlist_matches_hosts_not_look_alikes(publisher_hosts):
    assert on_allowlist("https://www.niddk.nih.gov/health-information", publisher_hosts)
    assert not on_allowlist("http://medlineplus.gov/fever.html", publisher_hosts)
    assert not on_allowlist("https://medlineplus.gov.example.com/fever.html", publisher_hosts)
    assert not on_allowlist("https://notnih.gov/fever", publisher_hosts)


def test_every_source_is_a_recognised_public_health_publisher(documents, publisher_hosts):
    offenders = [f"{d.path}: {s.url}" for d in documents for s in d.sources if not on_allowlist(s.url, publisher_hosts)]
    assert not offenders, "cite a page from a publisher in knowledge/publishers.yaml"


def test_english_reads_at_grade_8_or_below(documents):
    grades = {d.path: reading_score(plain_text(d.body), "en") for d in documents if d.language == "en"}
    assert grades and not {p: g for p, g in grades.items() if g > MAX_FK_GRADE}


def test_spanish_reads_at_normal_or_easier(documents):
    scores = {d.path: reading_score(plain_text(d.body), "es") for d in documents if d.language == "es"}
    assert scores and not {p: s for p, s in scores.items() if s < MIN_FERNANDEZ_HUERTA}


def test_the_reading_scores_tell_plain_from_dense_text():
    """The bounds can fail: textbook prose scores past them, the plain text in the library does not."""
    dense_en = ("Hypertension, characterized by persistently elevated arterial pressure, substantially increases "
                "cardiovascular morbidity, necessitating individualized pharmacological intervention alongside "
                "comprehensive modification of dietary and behavioral determinants.")
    dense_es = ("La hipertensión arterial, caracterizada por una elevación persistente de la presión sanguínea, "
                "incrementa considerablemente la morbilidad cardiovascular, requiriendo intervenciones "
                "farmacológicas individualizadas y modificaciones integrales de determinantes conductuales.")
    assert reading_score(dense_en, "en") > MAX_FK_GRADE
    assert reading_score(dense_es, "es") < MIN_FERNANDEZ_HUERTA
    assert reading_score("Eat less salt. Walk every day. Take your medicine.", "en") < MAX_FK_GRADE


def test_chinese_sentences_are_short(documents):
    for doc in (d for d in documents if d.language == "zh"):
        lengths = chinese_sentences(plain_text(doc.body))
        assert sum(lengths) / len(lengths) <= MAX_MEAN_SENTENCE_HAN, doc.path
        assert max(lengths) <= MAX_SENTENCE_HAN, doc.path


def test_chinese_uses_common_characters(documents, common_characters):
    assert {"的", "医", "药", "病", "喝", "水"} <= common_characters and "甾" not in common_characters
    for doc in (d for d in documents if d.language == "zh"):
        chars = [c for c in _HAN.findall(plain_text(doc.body)) if c not in doc.title]
        share = sum(c in common_characters for c in chars) / len(chars)
        rare = collections.Counter(c for c in chars if c not in common_characters)
        assert share >= MIN_COMMON_SHARE, f"{doc.path}: {share:.3f}; most used rare characters {rare.most_common(5)}"


def test_chunks_keep_title_and_sources(documents):
    for doc in documents[:20]:
        for chunk in chunk_document(doc):
            assert chunk.title == doc.title and chunk.sources == doc.sources
            assert all(s.url.startswith("https://") for s in chunk.sources)


def test_no_individual_doses_in_guidance(documents):
    """Guidance never sets a medicine dose (mg amounts belong to the label and the pharmacist)."""
    dose = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|milligrams?|micrograms?|毫克)\b(?!\s?/)", re.IGNORECASE)  # mg/dL is a lab value
    offenders = [d.path for d in documents if dose.search(d.body)]
    assert not offenders
