"""JSON in and out: batch input lines and API bodies become Queries; Replies become the documented output record."""

from __future__ import annotations

import json
from typing import Any

from chatbot.errors import BadInputError
from chatbot.types import Query, Reply, Screening, Turn

MAX_HISTORY_TURNS = 20


def query_from_json(data: Any, max_chars: int = 100_000) -> Query:
    """Validate a {"question", "history"?, "lang"?} object; a clear BadInputError names what is wrong."""
    if not isinstance(data, dict):
        raise BadInputError("Each input must be a JSON object with a \"question\" field.")
    question = data.get("question")
    if not isinstance(question, str):
        raise BadInputError("The \"question\" field is required and must be text.")
    if len(question) > max_chars:
        raise BadInputError(f"The question is longer than {max_chars} characters.")
    history = data.get("history") or []
    if not isinstance(history, list):
        raise BadInputError("\"history\" must be a list of {\"role\", \"content\"} objects.")
    turns = []
    for turn in history[-MAX_HISTORY_TURNS:]:
        if not (isinstance(turn, dict) and turn.get("role") in ("user", "assistant")
                and isinstance(turn.get("content"), str)):
            raise BadInputError("Each history item needs \"role\" (user or assistant) and \"content\" (text).")
        turns.append(Turn(turn["role"], turn["content"][:max_chars]))
    lang = data.get("lang")
    if lang is not None and not (isinstance(lang, str) and 2 <= len(lang) <= 8):
        raise BadInputError("\"lang\" must be a language code such as \"es\".")
    return Query(question, tuple(turns), lang.split("-")[0].lower() if lang else None)


def reply_record(reply: Reply, record_id: Any = None) -> dict[str, Any]:
    timings = {k: reply.timings_ms.get(k, 0.0) for k in ("screen", "retrieve", "first_sentence", "total")}
    record = {
        "id": record_id, "question": reply.question, "answer": reply.text, "language": reply.language,
        "route": reply.route, "flags": list(reply.flags),
        "citations": [{"doc_id": c.doc_id, "title": c.title, "url": c.url, "score": c.score}
                      for c in reply.citations],
        "timings_ms": timings,
    }
    if reply.reply_id:  # web replies: what POST /api/v1/feedback refers to
        record["reply_id"] = reply.reply_id
    return record


def screening_record(screening: Screening, question: str, language: str, record_id: Any,
                     timings_ms: dict[str, float]) -> dict[str, Any]:
    return {"id": record_id, "question": question, "language": language, "route": screening.route,
            "flags": list(screening.flags), "rule": screening.rule_id, "timings_ms": timings_ms}


def error_record(record_id: Any, error: str, line_number: int | None = None) -> dict[str, Any]:
    record = {"id": record_id, "error": error}
    if line_number is not None:
        record["line"] = line_number
    return record


def parse_line(line: str) -> tuple[Any, dict]:
    """(id, object) from one JSONL line; raises BadInputError with a readable reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadInputError(f"Not valid JSON ({error.msg} at column {error.colno}).") from None
    return (data.get("id") if isinstance(data, dict) else None), data
