"""JSON in and out: input lines and API bodies are validated; replies become the documented record."""

from __future__ import annotations

import json

import pytest

from chatbot.errors import BadInputError
from chatbot.records import (MAX_HISTORY_TURNS, error_record, parse_line, query_from_json, reply_record,
                             screening_record)
from chatbot.types import Citation, Query, Reply, Screening, Turn


def test_a_good_object_becomes_a_query() -> None:
    query = query_from_json({"question": "What helps a fever?", "lang": "es-MX",
                             "history": [{"role": "user", "content": "hi"},
                                         {"role": "assistant", "content": "hello"}]})
    assert query == Query("What helps a fever?", (Turn("user", "hi"), Turn("assistant", "hello")), "es")


def test_history_and_lang_are_optional() -> None:
    assert query_from_json({"question": "q"}) == Query("q", (), None)
    assert query_from_json({"question": "q", "history": None, "lang": None}) == Query("q", (), None)


def test_only_the_latest_history_is_kept() -> None:
    history = [{"role": "user", "content": str(i)} for i in range(MAX_HISTORY_TURNS + 5)]
    query = query_from_json({"question": "q", "history": history})
    assert len(query.history) == MAX_HISTORY_TURNS
    assert query.history[-1].content == str(MAX_HISTORY_TURNS + 4)


@pytest.mark.parametrize("data, says", [
    ([1, 2], "JSON object"),
    ("just text", "JSON object"),
    ({}, '"question" field is required'),
    ({"id": 1, "q": "typo"}, '"question" field is required'),
    ({"question": 42}, "must be text"),
    ({"question": None}, "must be text"),
    ({"question": "q", "history": "earlier I asked"}, '"history" must be a list'),
    ({"question": "q", "history": [{"role": "doctor", "content": "x"}]}, "role"),
    ({"question": "q", "history": [{"role": "user"}]}, "content"),
    ({"question": "q", "history": ["hello"]}, "role"),
    ({"question": "q", "lang": 7}, '"lang" must be a language code'),
    ({"question": "q", "lang": "x"}, '"lang" must be a language code'),
    ({"question": "q", "lang": "english-please"}, '"lang" must be a language code'),
])
def test_bad_input_is_a_clear_error(data, says: str) -> None:
    with pytest.raises(BadInputError) as caught:
        query_from_json(data)
    assert says in str(caught.value)


def test_an_overlong_question_is_refused() -> None:
    with pytest.raises(BadInputError, match="longer than 10 characters"):
        query_from_json({"question": "x" * 11}, max_chars=10)


@pytest.mark.parametrize("line", ['{"question": ', "not json", "{'question': 'single quotes'}", ""])
def test_bad_json_is_a_clear_error(line: str) -> None:
    with pytest.raises(BadInputError, match="Not valid JSON"):
        parse_line(line)


def test_parse_line_returns_the_id() -> None:
    assert parse_line('{"id": "a1", "question": "q"}') == ("a1", {"id": "a1", "question": "q"})
    assert parse_line("[1]") == (None, [1])


DOCUMENTED_KEYS = {"id", "question", "answer", "language", "route", "flags", "citations", "timings_ms"}


def test_reply_record_has_the_documented_keys() -> None:
    reply = Reply(question="What helps a fever?", text="Drink plenty of water and rest.", language="en",
                  route="answer", flags=("educational",),
                  citations=(Citation("fever", "Fever", "https://medlineplus.gov/fever.html", 0.81),),
                  timings_ms={"screen": 0.1, "language": 0.2, "retrieve": 3.0, "first_sentence": 10.0,
                              "total": 12.5})
    record = reply_record(reply, "q-1")
    assert set(record) == DOCUMENTED_KEYS
    assert record["id"] == "q-1"
    assert (record["question"], record["answer"], record["language"], record["route"]) == (
        "What helps a fever?", "Drink plenty of water and rest.", "en", "answer")
    assert record["flags"] == ["educational"]
    assert record["citations"] == [{"doc_id": "fever", "title": "Fever",
                                    "url": "https://medlineplus.gov/fever.html", "score": 0.81}]
    assert record["timings_ms"] == {"screen": 0.1, "retrieve": 3.0, "first_sentence": 10.0, "total": 12.5}
    json.dumps(record)  # serialisable as a JSON line


def test_reply_record_fills_missing_timings_with_zero() -> None:
    record = reply_record(Reply("q", "Call 911 now.", "en", "emergency", timings_ms={"screen": 0.2}))
    assert record["timings_ms"] == {"screen": 0.2, "retrieve": 0.0, "first_sentence": 0.0, "total": 0.0}
    assert record["citations"] == [] and record["flags"] == []


def test_screening_record() -> None:
    record = screening_record(Screening("emergency", (), "chest_pain", "emergency"), "chest pain", "en", 7,
                              {"screen": 0.3})
    assert record == {"id": 7, "question": "chest pain", "language": "en", "route": "emergency", "flags": [],
                      "rule": "chest_pain", "timings_ms": {"screen": 0.3}}


def test_error_record() -> None:
    assert error_record("a", "Not valid JSON.", 3) == {"id": "a", "error": "Not valid JSON.", "line": 3}
    assert error_record(None, "bad") == {"id": None, "error": "bad"}
