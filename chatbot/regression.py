"""Regression suites: questions with expectations, run through the pipeline, pass/fail per case, and a comparison
with the suite's previous run, so that a change to the knowledge, the prompts or the model shows what got better
and what got worse.

A suite is JSONL (one object a line) or CSV (a header row) with the fields
  id, question, lang?, route? (one route, or several allowed separated by "|"), cite? (a topic id that must be
  cited), must_not? (phrases that must not appear in the answer, separated by "|"; a JSON list in JSONL).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from chatbot.errors import BadInputError
from chatbot.types import ROUTES, Query, Reply

MAX_CASES = 500
CHANGES = ("fixed", "broke", "still failing", "still passing", "new")


@dataclass(frozen=True)
class Case:
    case_id: str
    question: str
    lang: str | None = None
    routes: tuple[str, ...] = ()  # any of these passes; empty: any route
    cite: str = ""
    must_not: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseResult:
    case: Case
    route: str
    topics: tuple[str, ...]
    problems: tuple[str, ...]
    change: str = "new"  # against the previous run: one of CHANGES

    @property
    def passed(self) -> bool:
        return not self.problems


def parse_suite(name: str, data: bytes) -> tuple[Case, ...]:
    """Cases from a JSONL or CSV file's bytes; a bad line is named with its number and the suite is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"{name}: the file is not UTF-8 text.") from None
    rows = _csv_rows(text) if name.lower().endswith(".csv") else _jsonl_rows(name, text)
    cases, seen = [], set()
    for number, row in rows:
        try:
            case = _case(row, number)
        except (ValueError, TypeError, AttributeError) as error:
            raise BadInputError(f"{name}, line {number}: {error}") from None
        if case.case_id in seen:
            raise BadInputError(f"{name}, line {number}: the id {case.case_id!r} is used twice.")
        seen.add(case.case_id)
        cases.append(case)
    if not cases:
        raise BadInputError(f"{name}: no cases found (JSONL lines or CSV rows with id and question).")
    if len(cases) > MAX_CASES:
        raise BadInputError(f"{name}: {len(cases)} cases; a suite holds at most {MAX_CASES}.")
    return tuple(cases)


def load_suite(path: Path) -> tuple[Case, ...]:
    if not path.is_file():
        raise BadInputError(f"{path} is not a file.")
    return parse_suite(path.name, path.read_bytes())


def _jsonl_rows(name: str, text: str) -> Iterable[tuple[int, dict]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise BadInputError(f"{name}, line {number}: not valid JSON ({error.msg}).") from None


def _csv_rows(text: str) -> Iterable[tuple[int, dict]]:
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        yield number, {k.strip(): v for k, v in row.items() if k}


def _case(row: Any, number: int) -> Case:
    if not isinstance(row, dict):
        raise ValueError("each case must be an object with id and question")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("\"question\" is required")
    routes = _split(row.get("route"))
    unknown = [r for r in routes if r not in ROUTES]
    if unknown:
        raise ValueError(f"unknown route {unknown[0]!r} (one of {', '.join(ROUTES)})")
    return Case(str(row.get("id") or f"line-{number}"), question, (str(row.get("lang") or "").strip() or None),
                routes, str(row.get("cite") or "").strip(), _split(row.get("must_not")))


def _split(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value or "").split("|")
    return tuple(str(item).strip() for item in items if str(item).strip())


def check(case: Case, reply: Reply) -> CaseResult:
    topics = tuple(dict.fromkeys(c.doc_id for c in reply.citations))
    problems = []
    if case.routes and reply.route not in case.routes:
        problems.append(f"route {reply.route}, expected {' or '.join(case.routes)}")
    if case.cite and case.cite not in topics:
        problems.append(f"does not cite {case.cite}" + (f" (cites {', '.join(topics)})" if topics else ""))
    lowered = reply.text.lower()
    problems += [f"says {phrase!r}" for phrase in case.must_not if phrase.lower() in lowered]
    return CaseResult(case, reply.route, topics, tuple(problems))


def run_suite(cases: Iterable[Case], answer: Callable[[Query], Reply],
              previous: dict[str, Any] | None = None) -> list[CaseResult]:
    """Every case through `answer`, each marked against the previous run's outcome."""
    before = (previous or {}).get("cases", {})
    results = []
    for case in cases:
        result = check(case, answer(Query(case.question, (), case.lang)))
        results.append(_with_change(result, before.get(case.case_id)))
    return results


def _with_change(result: CaseResult, before: dict | None) -> CaseResult:
    if before is None:
        change = "new"
    elif before.get("passed"):
        change = "still passing" if result.passed else "broke"
    else:
        change = "fixed" if result.passed else "still failing"
    return CaseResult(result.case, result.route, result.topics, result.problems, change)


def summary(results: list[CaseResult], index_version: str = "", backend: str = "") -> dict[str, Any]:
    """What is stored of a run (for the next comparison): outcomes per case id, never the answers."""
    return {"passed": sum(r.passed for r in results), "total": len(results), "index_version": index_version,
            "backend": backend,
            "cases": {r.case.case_id: {"passed": r.passed, "route": r.route, "problems": list(r.problems)}
                      for r in results}}


def changes(results: list[CaseResult]) -> dict[str, int]:
    counts = {change: 0 for change in CHANGES}
    for r in results:
        counts[r.change] += 1
    return counts


def report_text(results: list[CaseResult]) -> str:
    lines = [f"{'PASS' if r.passed else 'FAIL'}  {r.case.case_id:28} {r.route:9} {r.change:14} "
             f"{'; '.join(r.problems)}".rstrip() for r in results]
    counts = changes(results)
    lines.append(f"{sum(r.passed for r in results)}/{len(results)} passed; "
                 + ", ".join(f"{n} {change}" for change, n in counts.items() if n))
    return "\n".join(lines)
