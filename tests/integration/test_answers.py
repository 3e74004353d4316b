"""Answers from the real pipeline: the real embedder, the real bundled model, the real knowledge folder."""

from __future__ import annotations

from typing import Iterator

import pytest

from chatbot import messages
from chatbot.config import Settings
from chatbot.knowledge import chunk_documents, load_knowledge
from chatbot.pipeline import Pipeline
from chatbot.types import Passage, Prompt, Query, Reply
from chatbot.verification import SentenceCache, Verifier, build_evidence

from .conftest import curated_sentences, shown_parts

pytestmark = pytest.mark.slow

TOPICS = {
    "How can I lower my blood pressure?": {"high-blood-pressure"},
    "Do I need antibiotics for a cold?": {"antibiotics", "common-cold"},
    "What helps a fever?": {"fever"},
}
OUTSIDE = ["What is the capital of France?", "How do I fix my car's brakes?"]


@pytest.fixture(scope="module")
def replies(real_pipeline: Pipeline) -> dict[str, Reply]:
    """One real answer per topic question, shared by the tests below (each takes seconds on a CPU)."""
    return {question: real_pipeline.answer(Query(question)) for question in TOPICS}


@pytest.mark.parametrize("question", list(TOPICS))
def test_answer_comes_from_the_right_topic_with_its_citation(replies, question):
    reply = replies[question]
    assert reply.route in ("answer", "fallback"), (reply.route, reply.flags)
    assert reply.text.strip()
    cited = {c.doc_id for c in reply.citations}
    assert cited & TOPICS[question], f"cited {sorted(cited)}, expected one of {sorted(TOPICS[question])}"
    assert all(c.url.startswith("https://") for c in reply.citations), reply.citations


@pytest.mark.parametrize("question", list(TOPICS))
def test_every_shown_sentence_was_checked(replies, real_settings: Settings, question):
    """The generated part is exactly the kept sentences; anything after the fallback intro is curated text."""
    reply = replies[question]
    assert reply.checks, "the model wrote nothing that was checked"
    kept = [c.text for c in reply.checks if c.kept]
    dropped = [c.text for c in reply.checks if not c.kept and c.text not in kept]
    generated, curated = shown_parts(reply, real_settings)
    for text in kept:
        assert text in reply.text
    assert generated == " ".join(kept)
    for text in dropped:
        assert text not in generated, f"a dropped sentence was shown: {text!r}"
    if reply.route == "fallback":
        assert curated, "a fallback reply must carry curated text"
        assert _consume(curated, curated_sentences(reply)) == "", "the fallback shows text that is not curated"
    else:
        assert not curated


def _consume(text: str, sentences: set[str]) -> str:
    """Strip whole curated sentences off the front of `text`, longest first; return what is left."""
    ordered = sorted(sentences, key=len, reverse=True)
    while text:
        match = next((s for s in ordered if text.startswith(s)), None)
        if match is None:
            return text
        text = text[len(match):].lstrip()
    return text


@pytest.mark.parametrize("question", OUTSIDE)
def test_a_question_outside_the_knowledge_gets_no_answer(real_pipeline: Pipeline, real_settings, question):
    reply = real_pipeline.answer(Query(question))
    assert reply.route == "no_answer", (reply.route, reply.text)
    assert reply.citations == ()
    assert reply.checks == (), "the model must not answer from its own memory"
    assert reply.text == messages.message("no_answer", "en", real_settings)


class SpyGenerator:
    """Wraps the real generator and counts how often the pipeline asks it for text."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name = inner.name
        self.supports_prefill = getattr(inner, "supports_prefill", False)

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self.calls += 1
        return self.inner.stream(prompt)

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


def test_an_emergency_gets_911_without_the_model(real_pipeline: Pipeline, real_settings: Settings):
    spy = SpyGenerator(real_pipeline.generator)
    pipeline = Pipeline(real_settings, embedder=real_pipeline.embedder, generator=spy)
    reply = pipeline.answer(Query("I have crushing chest pain"))
    assert reply.route == "emergency"
    assert "911" in reply.text
    assert spy.calls == 0, "an emergency message reached the model"
    assert reply.citations == ()
    # the spy does see an ordinary question, so the count above means something
    ordinary = pipeline.answer(Query("What helps a fever?"))
    assert spy.calls == 1 and ordinary.checks


# (topic, a sentence of its curated text, verbatim): what the model writes when it copies the guidance faithfully.
# "if you have ..." explains a condition; the diagnosis rule must not drop it.
CURATED = [
    ("allergy-medicines", "Ask first if you have high blood pressure."),
    ("alcohol", "If you have thoughts of hurting yourself, call or text 988."),
    ("quitting-smoking", "Call 911 or your local emergency number if you have chest pain, trouble breathing, or "
                         "signs of a stroke."),
    ("allergy-medicines", "Antihistamines are medicines that ease allergy symptoms."),  # control: no "you have"
]


@pytest.fixture(scope="module")
def english_chunks(real_settings: Settings):
    return [c for c in chunk_documents(load_knowledge(real_settings.knowledge_dir).documents) if c.language == "en"]


@pytest.mark.parametrize(("doc_id", "sentence"), CURATED)
def test_a_curated_sentence_copied_verbatim_is_shown(real_pipeline, real_settings, english_chunks, doc_id, sentence):
    chunk = next(c for c in english_chunks if c.doc_id == doc_id and sentence in " ".join(c.text.split()))
    evidence = build_evidence([Passage(chunk, 1.0)], SentenceCache(real_pipeline.embedder))
    verifier = Verifier(real_pipeline.embedder, real_settings.support_threshold, real_settings.min_coverage)
    check = verifier.verify(sentence, evidence)
    assert check.kept, check
