"""Verification: the draft is cut into sentences as it streams, and each sentence is checked against the
retrieved passages before the patient sees it."""

from __future__ import annotations

from typing import Iterator

import pytest

from chatbot.types import Chunk, Passage, Source
from chatbot.verification import SentenceCache, Verifier, build_evidence, stream_sentences, strip_citations

FEVER_TEXT = ("Fever is a temperature of 38C or higher. Drink plenty of water and rest. "
              "Acetaminophen can help you feel more comfortable. If you have a fever, drink plenty of fluids.")
ASTHMA_TEXT = "Use your inhaler the way your care team showed you. Call 911 if your inhaler does not help."


def passage(text: str, doc_id: str, title: str) -> Passage:
    source = Source(title, f"https://medlineplus.gov/{doc_id}.html", "MedlinePlus")
    return Passage(Chunk(f"en/{doc_id}#0", doc_id, title, "What helps", text, "en", (source,)), 0.8)


PASSAGES = [passage(FEVER_TEXT, "fever", "Fever"), passage(ASTHMA_TEXT, "asthma", "Asthma")]


@pytest.fixture
def evidence(embedder):
    return build_evidence(PASSAGES, SentenceCache(embedder))


@pytest.fixture
def verifier(embedder) -> Verifier:
    return Verifier(embedder)  # the shipped thresholds


# ------------------------------------------------------------------------------------------- stream_sentences
def sentences(pieces: list[str]) -> list[tuple[str, bool]]:
    return list(stream_sentences(iter(pieces)))


def test_pieces_split_mid_word_become_whole_sentences() -> None:
    assert sentences(["Fev", "er is a temper", "ature of 38C or hig", "her. Dri", "nk water."]) == [
        ("Fever is a temperature of 38C or higher.", True), ("Drink water.", True)]


def test_a_decimal_split_across_pieces_is_not_a_sentence_end() -> None:
    assert sentences(["Take 1", ".", "5 cups of water. Then", " rest."]) == [
        ("Take 1.5 cups of water.", True), ("Then rest.", True)]


@pytest.mark.parametrize("pieces, expected", [
    (["Ask your doctor, e", ".g. your GP, about it. Then rest."],
     ["Ask your doctor, e.g. your GP, about it.", "Then rest."]),
    (["See Dr", ". Smith today. Bring your list."], ["See Dr. Smith today.", "Bring your list."]),
    (["Ask about vitamins, fluids, etc. before you go. Rest."],
     ["Ask about vitamins, fluids, etc. before you go.", "Rest."]),
])
def test_abbreviations_do_not_end_a_sentence(pieces: list[str], expected: list[str]) -> None:
    assert [s for s, _ in sentences(pieces)] == expected


def test_an_unfinished_final_fragment_is_marked_incomplete() -> None:
    assert sentences(["Drink plenty of water. Rest and"]) == [("Drink plenty of water.", True),
                                                              ("Rest and", False)]
    assert sentences(["Drink plenty of water and"]) == [("Drink plenty of water and", False)]


def test_a_finished_final_sentence_is_complete() -> None:
    assert sentences(["Call 911", "."]) == [("Call 911.", True)]
    assert sentences(["Is it serious?"]) == [("Is it serious?", True)]


def test_list_items_and_chinese_punctuation() -> None:
    assert sentences(["Steps:\n1", ". Rest.\n2. Drink water."]) == [
        ("Steps:", True), ("Rest.", True), ("Drink water.", True)]
    assert sentences(["发烧了。多喝", "水！休息"]) == [("发烧了。", True), ("多喝水！", True), ("休息", False)]


def test_empty_stream_gives_nothing() -> None:
    assert sentences([]) == [] and sentences(["", ""]) == []


def test_each_sentence_comes_as_soon_as_it_is_finished() -> None:
    consumed: list[str] = []

    def pieces() -> Iterator[str]:
        for piece in ["Drink plenty of water.", " Rest", " well", " today."]:
            consumed.append(piece)
            yield piece

    stream = stream_sentences(pieces())
    assert next(stream) == ("Drink plenty of water.", True)
    assert len(consumed) == 2  # it needed only to see that the next character is not a decimal digit
    assert list(stream) == [("Rest well today.", True)]


def test_a_closing_bracket_stays_with_its_sentence() -> None:
    shown = [s for s, _ in sentences(["(Ask your pharmacist first.) Then", " rest."])]
    assert not any(s.startswith((")", '"')) for s in shown)


# ------------------------------------------------------------------------------------------- Verifier
def test_a_sentence_copied_from_a_passage_is_kept(verifier, evidence) -> None:
    check = verifier.verify("Fever is a temperature of 38C or higher.", evidence)
    assert check.kept and check.reason == "supported"
    assert check.passage == 0
    assert check.support == pytest.approx(1.0, abs=1e-4) and check.coverage == 1.0


def test_support_points_at_the_passage_the_sentence_came_from(verifier, evidence) -> None:
    check = verifier.verify("Call 911 if your inhaler does not help.", evidence)
    assert check.kept and check.passage == 1


def test_markdown_around_a_supported_sentence_is_removed(verifier, evidence) -> None:
    check = verifier.verify("- **Drink plenty of water and rest.**", evidence)
    assert check.kept and check.text == "Drink plenty of water and rest."


@pytest.mark.parametrize("sentence", ["Fever is a temperature of 39C or higher.",
                                      "Call 112 if your inhaler does not help."])
def test_a_number_not_in_the_passages_is_dropped(verifier, evidence, sentence: str) -> None:
    check = verifier.verify(sentence, evidence)
    assert not check.kept and check.reason == "number_not_in_sources"


def test_a_dose_not_in_the_passages_is_dropped(verifier, evidence) -> None:
    check = verifier.verify("For a fever, take 400 mg of acetaminophen.", evidence)
    assert not check.kept and check.reason in {"number_not_in_sources", "dose_not_in_sources"}


def test_a_dose_unit_not_in_the_passages_is_dropped_even_with_a_known_number(verifier, evidence) -> None:
    check = verifier.verify("Take 38 mg of acetaminophen for a fever.", evidence)
    assert not check.kept and check.reason == "dose_not_in_sources"


@pytest.mark.parametrize("sentence", ["You have diabetes.", "You probably have the flu.",
                                      "It sounds like a case of asthma.", "Your diagnosis is asthma."])
def test_diagnosis_wording_is_dropped(verifier, evidence, sentence: str) -> None:
    check = verifier.verify(sentence, evidence)
    assert not check.kept and check.reason == "diagnosis"


def test_a_conditional_sentence_copied_from_the_passage_is_not_a_diagnosis(verifier, evidence) -> None:
    check = verifier.verify("If you have a fever, drink plenty of fluids.", evidence)
    assert check.kept, check.reason


def test_a_foreign_link_is_dropped(verifier, evidence) -> None:
    check = verifier.verify("Read about fever at https://cures.example.com/fever today.", evidence)
    assert not check.kept and check.reason == "foreign_link"


def test_an_unrelated_sentence_is_dropped(verifier, evidence) -> None:
    check = verifier.verify("The Eiffel Tower is a famous landmark in Paris.", evidence)
    assert not check.kept and check.reason == "unsupported"


def test_added_words_not_in_the_passage_are_dropped(verifier, evidence) -> None:
    check = verifier.verify("Drink plenty of water and rest and eat raw garlic daily.", evidence)
    assert not check.kept and check.reason in {"unsupported", "words_not_in_sources"}


def test_a_flipped_negation_is_dropped(verifier, evidence) -> None:
    check = verifier.verify("Do not drink plenty of water and rest.", evidence)
    assert not check.kept and check.reason == "negation_mismatch"


@pytest.mark.parametrize("sentence", ["Ok.", "1, 2, 3.", "Yes!"])
def test_fragments_are_dropped(verifier, evidence, sentence: str) -> None:
    check = verifier.verify(sentence, evidence)
    assert not check.kept and check.reason == "too_short"


def test_an_out_of_range_citation_is_stripped_and_never_shown(verifier, evidence) -> None:
    check = verifier.verify("Drink plenty of water and rest [7].", evidence)
    assert check.kept
    assert check.text == "Drink plenty of water and rest."
    assert "bad citation" in check.reason


def test_an_in_range_citation_is_stripped_too(verifier, evidence) -> None:
    check = verifier.verify("Drink plenty of water and rest [1].", evidence)
    assert check.kept and check.text == "Drink plenty of water and rest." and check.reason == "supported"


def test_strip_citations_reports_the_bad_ones() -> None:
    assert strip_citations("Rest [1] and drink [7] water [0].", 2) == ("Rest and drink water.", [7, 0])


def test_no_evidence_means_nothing_is_supported(verifier, embedder) -> None:
    check = verifier.verify("Drink plenty of water and rest.", build_evidence([], SentenceCache(embedder)))
    assert not check.kept


def test_stricter_thresholds_drop_a_loose_paraphrase(embedder, evidence) -> None:
    paraphrase = "Fever is a temperature of 38C or higher, drink plenty of water."
    assert Verifier(embedder).verify(paraphrase, evidence).kept
    assert not Verifier(embedder, support_threshold=0.95).verify(paraphrase, evidence).kept


# ------------------------------------------------------------------------------------------- evidence
def test_evidence_holds_the_passage_sentences_numbers_and_links(evidence) -> None:
    assert "Fever is a temperature of 38C or higher." in evidence.sentences
    assert evidence.owners[evidence.sentences.index("Call 911 if your inhaler does not help.")] == 1
    assert {"38", "911"} <= evidence.numbers
    assert evidence.urls == {"https://medlineplus.gov/fever.html", "https://medlineplus.gov/asthma.html"}
    assert evidence.passage_count == 2
    assert evidence.vectors.shape[0] == len(evidence.sentences)


def test_the_sentence_cache_embeds_each_sentence_once(embedder) -> None:
    cache = SentenceCache(embedder)
    build_evidence(PASSAGES, cache)
    calls = embedder.calls
    build_evidence(PASSAGES, cache)
    assert embedder.calls == calls


def test_the_sentence_cache_is_bounded_and_evicts_the_oldest(embedder) -> None:
    cache = SentenceCache(embedder, capacity=3)
    cache.embed(["first one", "second one"])
    vectors = cache.embed(["third one", "fourth one"])
    assert vectors == pytest.approx(embedder.embed(["third one", "fourth one"]))
    assert list(cache._vectors) == ["second one", "third one", "fourth one"]


def test_the_sentence_cache_answers_a_call_larger_than_its_capacity(embedder) -> None:
    cache = SentenceCache(embedder, capacity=3)
    texts = ["one a", "two b", "three c", "four d", "five e"]
    assert cache.embed(texts) == pytest.approx(embedder.embed(texts))
    assert len(cache._vectors) <= 3


@pytest.mark.parametrize("sentence", ["This is probably a urinary infection.", "That could be a sinus infection.",
                                      "It sounds like you have the flu.", "Parece que tiene una infección.",
                                      "你可能得了严重的流行性感冒，需要注意休息。"])
def test_speculative_diagnoses_are_dropped(verifier, evidence, sentence: str) -> None:
    check = verifier.verify(sentence, evidence)
    assert not check.kept and check.reason == "diagnosis"


def test_a_medicine_the_passages_do_not_name_is_dropped(verifier, evidence) -> None:
    check = verifier.verify("Ibuprofen can help you feel more comfortable.", evidence)
    assert not check.kept and check.reason == "drug_not_in_sources"


def test_a_medicine_the_passages_name_is_kept(verifier, evidence) -> None:
    check = verifier.verify("Acetaminophen can help you feel more comfortable.", evidence)
    assert check.kept, check.reason


def test_a_definition_is_not_a_diagnosis(verifier, evidence) -> None:
    from chatbot.verification import _diagnoses

    assert not _diagnoses("It is an infection of the lungs that can be serious.")
    assert not _diagnoses("This is a common condition in children.")
