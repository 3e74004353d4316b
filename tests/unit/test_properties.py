"""Property-based tests (hypothesis, thousands of generated inputs): normalisation is idempotent and never raises;
screening, language detection, verification, scrubbing, safe Markdown and the JSON reader never raise and always
answer in their contracts' terms."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chatbot.config import Settings
from chatbot.errors import BadInputError
from chatbot.language import detect_language, reply_language
from chatbot.markup import safe_markdown
from chatbot.normalize import has_words, normalize_text
from chatbot.privacy import scrub
from chatbot.records import query_from_json
from chatbot.screening import screen_with
from chatbot.types import ROUTES, Chunk, Passage, Source
from chatbot.verification import SentenceCache, Verifier, build_evidence, stream_sentences

MANY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOUSAND = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])

# any text, and text shaped like patient messages: words in three scripts, digits, punctuation, invisible and
# control characters, emoji, lookalikes that NFKC folds
PIECES = st.sampled_from(["chest pain", "suicide", "fever", "dolor de pecho", "胸痛", "自杀", "911", "<script>",
                          "\u200b", "\u202e", "\ufeff", "\x00", "\n\n\n", "ﬁ", "Ｃｈｅｓｔ", "🙂", "  ", "?", "[x](y)",
                          "![i](http://h/p.png)", "555-0142", "\U000e0041", "ß", "İ", "\u0301"])
MESSY = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=12).map("".join))


@MANY
@given(MESSY)
def test_normalisation_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\u200b" not in once and "\x00" not in once and "\u202e" not in once
    has_words(once)


RULES_ONLY = Settings().replace(semantic_screening=False)


@MANY
@given(MESSY)
def test_screening_never_raises_and_gives_a_known_route(text: str) -> None:
    screening = screen_with(normalize_text(text), RULES_ONLY)
    assert screening.route in ROUTES


@settings(max_examples=300, deadline=None)
@given(MESSY)
def test_screening_with_the_classifier_never_raises(text: str) -> None:
    assert screen_with(normalize_text(text), Settings()).route in ROUTES


@THOUSAND
@given(MESSY, st.lists(MESSY, max_size=3), st.one_of(st.none(), st.sampled_from(["en", "es", "zh", "hi", "fr", "xx"])))
def test_language_detection_never_raises_and_names_a_language(text: str, earlier: list[str], locale) -> None:
    assert isinstance(detect_language(text), str)
    lang = reply_language(normalize_text(text), [normalize_text(e) for e in earlier], locale, "en")
    assert isinstance(lang, str) and 2 <= len(lang) <= 3


def _passage(text: str, doc_id: str) -> Passage:
    source = Source(doc_id, f"https://medlineplus.gov/{doc_id}.html", "MedlinePlus")
    return Passage(Chunk(f"en/{doc_id}#0", doc_id, doc_id.title(), "What helps", text, "en", (source,)), 0.8)


@pytest.fixture(scope="module")
def verifier_and_evidence(request):
    embedder = request.getfixturevalue("hash_embedder_class")()
    passages = [_passage("Fever is a temperature of 38C or higher. Drink plenty of water and rest.", "fever"),
                _passage("Use your inhaler the way your care team showed you. Call 911 if it does not help.", "asthma")]
    return Verifier(embedder), build_evidence(passages, SentenceCache(embedder))


@pytest.fixture(scope="module")
def hash_embedder_class():
    from tests.conftest import HashEmbedder  # noqa: PLC0415  (the shared deterministic embedder)

    return HashEmbedder


@SOME
@given(MESSY)
def test_verification_never_raises(verifier_and_evidence, text: str) -> None:
    verifier, evidence = verifier_and_evidence
    check = verifier.verify(text, evidence)
    assert isinstance(check.kept, bool)


@THOUSAND
@given(st.lists(MESSY, max_size=10))
def test_the_sentence_stream_never_raises(pieces: list[str]) -> None:
    for sentence, complete in stream_sentences(iter(pieces)):
        assert isinstance(sentence, str) and isinstance(complete, bool)


@THOUSAND
@given(MESSY)
def test_scrubbing_never_raises_and_leaves_no_email(text: str) -> None:
    scrubbed = scrub(text)
    assert isinstance(scrubbed, str)
    assert "@example.com" not in scrub(text + " m.q@example.com")


@THOUSAND
@given(MESSY)
def test_safe_markdown_never_raises_and_leaves_no_html(text: str) -> None:
    shown = safe_markdown(text, {"medlineplus.gov"})
    assert "<" not in shown and "](javascript" not in shown.lower()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)
BODIES = st.one_of(JSON, st.fixed_dictionaries({"question": MESSY}, optional={
    "history": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "x"]),
                                               "content": st.one_of(MESSY, st.integers())}), max_size=4) | JSON,
    "lang": st.one_of(st.text(max_size=10), JSON)}))


@THOUSAND
@given(BODIES)
def test_the_json_reader_accepts_or_says_what_is_wrong(data) -> None:
    json.dumps(data)
    try:
        query = query_from_json(data)
    except BadInputError as error:
        assert str(error)
    else:
        assert isinstance(query.text, str)
