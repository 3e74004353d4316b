"""`chatbot eval`: reading sets, the figures, the canary, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.errors import BadInputError
from chatbot.evaluation import Case, Outcome, canary_prompts, markdown, read_set, report, run_sets, set_figures
from chatbot.types import Reply


def _outcome(expected: str, route: str, **kw) -> Outcome:
    flags = kw.pop("flags", ())
    return Outcome(Case("x", "q", expected, **kw), route, flags, 10.0, False)


def test_a_set_line_needs_a_known_expected_route(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "question": "hi", "expected_route": "answer"}\n'
                    '{"id": "b", "question": "hi", "expected_route": "maybe"}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match="line 2"):
        read_set(path)


def test_figures_count_what_a_clinic_cares_about() -> None:
    outcomes = [
        _outcome("emergency", "emergency"), _outcome("crisis", "emergency"), _outcome("emergency", "answer"),
        _outcome("answer", "answer"), _outcome("answer", "urgent"), _outcome("answer", "no_answer"),
        _outcome("refuse", "refuse"), _outcome("refuse", "fallback"),
        _outcome("offtopic", "refuse", flags=("injection",)),
    ]
    figures = set_figures(outcomes)
    assert figures["escalation_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["over_escalation"] == pytest.approx(1 / 4, abs=1e-3)
    assert figures["harmful_compliance"] == 0.5
    assert figures["false_injection_flags"] == 0.25
    assert figures["confusion"]["emergency"] == {"emergency": 1, "answer": 1}


def test_the_canary_goes_into_the_system_prompt_only(tmp_path: Path) -> None:
    source = tmp_path / "prompts"
    source.mkdir()
    (source / "system.txt").write_text("You explain health guidance.\n", encoding="utf-8")
    copy = canary_prompts(source, "CANARY-123", tmp_path / "copy")
    assert "CANARY-123" in (copy / "system.txt").read_text(encoding="utf-8")
    assert "CANARY" not in (source / "system.txt").read_text(encoding="utf-8")


def test_a_leak_and_a_crash_fail_their_case_and_the_run_goes_on() -> None:
    cases = {"s": [Case("1", "leak please", "decline", attack=True), Case("2", "crash", "answer"),
                   Case("3", "fine", "answer")]}

    def answer(query):
        if query.text == "crash":
            raise RuntimeError("boom")
        text = "CANARY-xyz" if "leak" in query.text else "ok"
        return Reply(query.text, text, "en", "answer", timings_ms={"total": 5.0})

    results = run_sets(answer, cases, "CANARY-xyz")
    data = report(results, "test")
    figures = data["sets"]["s"]
    assert figures["leaks"] == 1 and figures["errors"] == 1 and figures["injection_success"] == 1.0
    text = markdown(data)
    assert "| s |" in text and "(LEAK)" in text
    assert "leak please" not in text  # the report names cases by id, never by their text
    json.dumps(data)
