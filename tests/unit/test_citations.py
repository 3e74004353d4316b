"""Citations: the topics behind what was shown, each with its first source link."""

from __future__ import annotations

from chatbot.citations import cite
from chatbot.types import Chunk, Citation, Passage, SentenceCheck, Source


def passage(doc_id: str, title: str, score: float, language: str = "en", n: int = 0) -> Passage:
    sources = (Source(title, f"https://medlineplus.gov/{doc_id}.html", "MedlinePlus"),
               Source(title, f"https://www.nhs.uk/{doc_id}/", "NHS"))
    return Passage(Chunk(f"{language}/{doc_id}#{n}", doc_id, title, "s", "text", language, sources), score)


PASSAGES = [passage("fever", "Fever", 0.812345), passage("asthma", "Asthma", 0.5), passage("fever", "Fever", 0.7, n=1)]


def kept(i: int) -> SentenceCheck:
    return SentenceCheck(f"kept from {i}", True, "supported", 0.9, 1.0, i)


def dropped(i: int | None) -> SentenceCheck:
    return SentenceCheck("dropped", False, "unsupported", 0.2, 0.1, i)


def test_each_kept_sentence_cites_its_topic_once_in_order_of_first_use() -> None:
    citations = cite(PASSAGES, [kept(1), kept(0), kept(2), kept(1)])
    assert citations == (Citation("asthma", "Asthma", "https://medlineplus.gov/asthma.html", 0.5),
                         Citation("fever", "Fever", "https://medlineplus.gov/fever.html", 0.8123))


def test_dropped_sentences_cite_nothing() -> None:
    assert cite(PASSAGES, [dropped(0), dropped(1), dropped(None)]) == ()


def test_passages_used_verbatim_are_cited() -> None:
    assert [c.doc_id for c in cite(PASSAGES, [], used=[2, 1])] == ["fever", "asthma"]
    assert [c.doc_id for c in cite(PASSAGES, [kept(1)], used=[0])] == ["asthma", "fever"]


def test_an_out_of_range_passage_is_never_cited() -> None:
    assert [c.doc_id for c in cite(PASSAGES, [kept(7), kept(-1)], used=[3])] == []


def test_the_same_topic_in_two_languages_is_two_citations() -> None:
    passages = [passage("fever", "Fever", 0.8), passage("fever", "Fiebre", 0.6, language="es")]
    assert [c.title for c in cite(passages, [kept(0), kept(1)])] == ["Fever", "Fiebre"]
