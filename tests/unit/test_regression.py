"""Regression suites: JSONL and CSV, pass/fail per case, the comparison with the previous run, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import BadInputError
from chatbot.regression import changes, load_suite, parse_suite, report_text, run_suite, summary
from chatbot.types import Citation, Query, Reply

STARTER = Path(__file__).resolve().parents[2] / "evals" / "regression" / "starter.jsonl"


def fake_answer(route: str = "answer", topic: str = "fever", text: str = "Drink water and rest."):
    def answer(query: Query) -> Reply:
        return Reply(query.text, text, query.locale or "en", route,
                     citations=(Citation(topic, topic.title(), f"https://medlineplus.gov/{topic}.html", 0.8),))
    return answer


def test_jsonl_and_csv_give_the_same_cases() -> None:
    jsonl = parse_suite("s.jsonl", b'{"id": "a", "question": "Q?", "lang": "es", "route": "answer|fallback", '
                                   b'"cite": "fever", "must_not": ["you have", "mg"]}\n')
    csv = parse_suite("s.csv", "id,question,lang,route,cite,must_not\na,Q?,es,answer|fallback,fever,you have|mg\n"
                      .encode())
    assert jsonl == csv
    assert jsonl[0].routes == ("answer", "fallback") and jsonl[0].must_not == ("you have", "mg")


def test_each_expectation_is_checked() -> None:
    [case] = parse_suite("s.jsonl", b'{"id": "a", "question": "Q?", "route": "answer", "cite": "asthma", '
                                    b'"must_not": ["RESTED", "water"]}\n')
    [result] = run_suite([case], fake_answer(route="fallback"))
    assert not result.passed
    assert result.problems == ("route fallback, expected answer", "does not cite asthma (cites fever)",
                               "says 'water'")


def test_the_comparison_names_what_got_better_and_worse() -> None:
    cases = parse_suite("s.jsonl", b'{"id": "a", "question": "Q?", "cite": "fever"}\n'
                                   b'{"id": "b", "question": "Q?", "cite": "asthma"}\n'
                                   b'{"id": "c", "question": "Q?"}\n')
    previous = {"cases": {"a": {"passed": False}, "b": {"passed": True}}}
    results = run_suite(cases, fake_answer(), previous)
    assert [r.change for r in results] == ["fixed", "broke", "new"]
    assert changes(results)["fixed"] == 1
    stored = summary(results, "v1", "local")
    assert stored["passed"] == 2 and stored["cases"]["b"]["passed"] is False
    assert "Drink" not in str(stored), "the stored run keeps outcomes, not answers"
    assert "2/3 passed; 1 fixed, 1 broke, 1 new" in report_text(results)


@pytest.mark.parametrize("name, data, message", [
    ("s.jsonl", b"{oops\n", "s.jsonl, line 1: not valid JSON"),
    ("s.jsonl", b'{"id": "a"}\n', "line 1: \"question\" is required"),
    ("s.jsonl", b'{"id": "a", "question": "Q", "route": "maybe"}\n', "unknown route 'maybe'"),
    ("s.jsonl", b'{"id": "a", "question": "Q"}\n{"id": "a", "question": "R"}\n', "line 2: the id 'a' is used twice"),
    ("s.csv", b"id,question\n", "no cases found"),
    ("s.csv", b"\xff\xfe", "not UTF-8"),
])
def test_a_bad_suite_is_refused_with_the_line(name: str, data: bytes, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_suite(name, data)


def test_the_starter_suite_covers_languages_and_routes() -> None:
    cases = load_suite(STARTER)
    assert 20 <= len(cases) <= 40
    assert {c.lang for c in cases} >= {"en", "es", "zh"}
    routes = {r for c in cases for r in c.routes}
    assert {"answer", "emergency", "crisis", "refuse", "urgent", "no_answer"} <= routes
    assert sum(bool(c.cite) for c in cases) >= 10 and any(c.must_not for c in cases)
