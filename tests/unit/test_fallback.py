"""The extractive answer: curated sentences shown as written when the model's draft cannot be used."""

from __future__ import annotations

import pytest

from chatbot.fallback import MAX_SENTENCES, extract_answer, starts_with_reference
from chatbot.types import Chunk, Passage, Source
from chatbot.verification import SentenceCache, build_evidence


def passage(text: str, doc_id: str, title: str) -> Passage:
    source = Source(title, f"https://medlineplus.gov/{doc_id}.html", "MedlinePlus")
    return Passage(Chunk(f"en/{doc_id}#0", doc_id, title, "s", text, "en", (source,)), 0.8)


FEVER = passage("Fever is a temperature of 38C or higher. Drink plenty of water and rest every day. "
                "Acetaminophen can help you feel more comfortable. Call your clinic if the fever lasts "
                "more than three days. Signs of a fever include:", "fever", "Fever")
ASTHMA = passage("Use your asthma inhaler the way your care team showed you. Stay away from smoke, dust and "
                 "other asthma triggers.", "asthma", "Asthma")


@pytest.fixture
def evidence(embedder):
    return build_evidence([FEVER, ASTHMA], SentenceCache(embedder))


def ask(embedder, evidence, question: str, **kwargs) -> list[tuple[str, int]]:
    return extract_answer(embedder.embed([question])[0], evidence, **kwargs)


def test_answers_with_consecutive_sentences_of_the_most_relevant_passage(embedder, evidence) -> None:
    answer = ask(embedder, evidence, "How do I use my asthma inhaler?")
    assert answer == [("Use your asthma inhaler the way your care team showed you.", 1),
                      ("Stay away from smoke, dust and other asthma triggers.", 1)]


def test_sentences_are_shown_verbatim_in_their_written_order(embedder, evidence) -> None:
    answer = ask(embedder, evidence, "fever temperature")
    sentences = [s for s, _ in answer]
    assert 1 <= len(sentences) <= MAX_SENTENCES
    assert all(owner == 0 for _, owner in answer)
    assert all(s in evidence.sentences for s in sentences)
    positions = [evidence.sentences.index(s) for s in sentences]
    assert positions == list(range(positions[0], positions[0] + len(positions)))


def test_headings_lead_ins_and_short_titles_are_never_used(embedder, evidence) -> None:
    for question in ("fever", "Signs of a fever include", "asthma"):
        for sentence, _ in ask(embedder, evidence, question):
            assert sentence not in {"Fever.", "Asthma."}
            assert not sentence.endswith(":")


def test_sentences_already_shown_are_not_repeated(embedder, evidence) -> None:
    shown = {"Use your asthma inhaler the way your care team showed you."}
    answer = ask(embedder, evidence, "How do I use my asthma inhaler?", exclude=shown)
    assert answer and not shown & {s for s, _ in answer}


def test_max_sentences(embedder, evidence) -> None:
    assert len(ask(embedder, evidence, "fever water rest", max_sentences=1)) == 1


def test_no_evidence_gives_no_answer(embedder) -> None:
    empty = build_evidence([], SentenceCache(embedder))
    assert extract_answer(embedder.embed(["fever"])[0], empty) == []


def test_an_answer_never_opens_with_a_sentence_that_points_back(embedder) -> None:
    blood_pressure = passage("High blood pressure means the force of blood on the artery walls is too high. "
                             "It often has no symptoms, so get your blood pressure checked.", "hbp",
                             "High blood pressure")
    evidence = build_evidence([blood_pressure], SentenceCache(embedder))
    answer = ask(embedder, evidence, "does high blood pressure have symptoms? get it checked")
    assert answer and not answer[0][0].startswith("It ")
    assert answer[0][0].startswith("High blood pressure means")


@pytest.mark.parametrize("sentence, expected", [
    ("They are also used for allergies.", True),
    ("It often has no symptoms.", True),
    ("Esto ayuda a bajar la fiebre.", True),
    ("Itching is common.", False),
    ("Thesis: rest helps.", False),
    ("Fever is a temperature of 38C or higher.", False),
])
def test_starts_with_reference(sentence: str, expected: bool) -> None:
    assert starts_with_reference(sentence) is expected
