"""Hybrid retrieval: the right topic, in the patient's language when there is one, or no answer at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.index import build_index
from chatbot.knowledge import load_knowledge
from chatbot.retrieval import Retriever, search_text
from chatbot.types import Query, Turn

MIN_RELEVANCE = 0.15  # calibrated for the hash embedder (see conftest)


@pytest.fixture
def retriever(tiny_knowledge: Path, embedder) -> Retriever:
    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    return Retriever(index, embedder, top_k=3, min_relevance=MIN_RELEVANCE)


@pytest.mark.parametrize("question, doc_id", [
    ("What is a fever?", "fever"),
    ("How can I bring down a fever?", "fever"),
    ("how do I lower my blood pressure", "high-blood-pressure"),
    ("how should I use my asthma inhaler", "asthma"),
])
def test_finds_the_topic_of_the_question(retriever: Retriever, question: str, doc_id: str) -> None:
    result = retriever.retrieve(question, "en")
    assert result.relevant
    assert result.passages[0].chunk.doc_id == doc_id
    assert result.language == "en"
    assert result.flags == ()
    assert result.search_text == question


def test_passages_are_ordered_and_bounded_by_top_k(tiny_knowledge: Path, embedder) -> None:
    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    for k in (1, 2):
        result = Retriever(index, embedder, top_k=k, min_relevance=MIN_RELEVANCE).retrieve("fever", "en")
        assert 1 <= len(result.passages) <= k
    result = Retriever(index, embedder, top_k=3, min_relevance=MIN_RELEVANCE).retrieve(
        "fever water rest temperature", "en")
    fused = [p.fused for p in result.passages]
    assert fused == sorted(fused, reverse=True)


def test_an_unrelated_question_is_not_relevant(retriever: Retriever) -> None:
    result = retriever.retrieve("what is the capital of France", "en")
    assert not result.relevant


def test_the_relevance_floor_decides(tiny_knowledge: Path, embedder) -> None:
    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    question = "How can I bring down a fever?"
    score = Retriever(index, embedder, min_relevance=0.0).retrieve(question, "en").passages[0].score
    assert Retriever(index, embedder, min_relevance=score - 0.01).retrieve(question, "en").relevant
    assert not Retriever(index, embedder, min_relevance=score + 0.01).retrieve(question, "en").relevant


def test_guidance_in_the_patients_language_comes_first(retriever: Retriever) -> None:
    result = retriever.retrieve("¿Qué puedo hacer si tengo fiebre?", "es")
    assert result.relevant
    assert result.language == "es"
    assert {p.chunk.language for p in result.passages} == {"es"}
    assert result.flags == ()


def test_english_guidance_is_used_when_the_language_has_none_and_flagged(retriever: Retriever) -> None:
    result = retriever.retrieve("asthma inhaler wheezing", "es")  # no Spanish asthma topic
    assert result.relevant
    assert result.language == "en"
    assert result.passages[0].chunk.doc_id == "asthma"
    assert result.flags == ("english_source",)


def test_a_language_with_no_guidance_at_all_falls_back_to_english(retriever: Retriever) -> None:
    result = retriever.retrieve("fever temperature", "de")
    assert result.relevant and result.language == "en"
    assert result.flags == ("english_source",)


def test_top_k_must_be_positive(tiny_knowledge: Path, embedder) -> None:
    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    with pytest.raises(ValueError):
        Retriever(index, embedder, top_k=0)


def test_a_short_follow_up_is_joined_to_the_previous_user_question() -> None:
    query = Query("what about for children?", (Turn("user", "How can I bring down a fever?"),
                                               Turn("assistant", "Drink plenty of water and rest.")))
    assert search_text(query, query.text) == "How can I bring down a fever? what about for children?"


def test_a_referring_follow_up_is_joined_even_when_long() -> None:
    text = "and is it safe to keep going to work and the gym while that is going on for a week"
    query = Query(text, (Turn("user", "I have a fever"),))
    assert search_text(query, text) == f"I have a fever {text}"


def test_a_new_long_question_is_searched_on_its_own() -> None:
    text = "How much salt should an adult eat each day to keep blood pressure down"
    query = Query(text, (Turn("user", "What is a fever?"),))
    assert search_text(query, text) == text


def test_without_history_the_question_is_searched_as_is() -> None:
    assert search_text(Query("what about for children?"), "what about for children?") == "what about for children?"


def test_outside_the_embedders_languages_a_cosine_alone_is_not_enough(tiny_knowledge: Path, embedder) -> None:
    """An English-trained embedder scores unrelated Spanish text high; the lexical search must agree on the topic."""
    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    trusting = Retriever(index, embedder, min_relevance=0.0, dense_languages=("en", "es"))
    careful = Retriever(index, embedder, min_relevance=0.0, dense_languages=("en",))
    assert trusting.retrieve("oxicodona en la orina", "es").language == "es"  # the Spanish fever topic, wrongly
    assert careful.retrieve("oxicodona en la orina", "es").language != "es"  # on to English, if anything
    found = careful.retrieve("¿qué hago con la fiebre?", "es")
    assert found.relevant and found.passages[0].chunk.doc_id == "fever"


def test_a_language_without_guidance_is_searched_in_english_through_its_glossary(tiny_knowledge: Path,
                                                                                  embedder) -> None:
    from chatbot.glossary import Glossary

    index = build_index(load_knowledge(tiny_knowledge).documents, embedder)
    hindi = Glossary((("बुखार", "fever"), ("रक्तचाप", "high blood pressure")), (("कम", "lower"),))
    retriever = Retriever(index, embedder, top_k=3, min_relevance=MIN_RELEVANCE, glossaries={"hi": hindi})
    result = retriever.retrieve("रक्तचाप कैसे कम करें", "hi")
    assert result.relevant and result.language == "en"
    assert result.flags == ("english_source", "glossary")
    assert result.search_text == "high blood pressure lower"
    assert result.passages[0].chunk.doc_id == "high-blood-pressure"
    nothing = retriever.retrieve("यह क्या है", "hi")  # names no term: not searched at all
    assert not nothing.relevant
