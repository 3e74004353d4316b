"""Values passed between pipeline stages: frozen dataclasses, no logic."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

Route = Literal["answer", "no_answer", "fallback", "urgent", "emergency", "crisis", "refuse"]
ROUTES: tuple[Route, ...] = ("answer", "no_answer", "fallback", "urgent", "emergency", "crisis", "refuse")
Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Query:
    text: str
    history: tuple[Turn, ...] = ()
    locale: str | None = None  # a language the host page or API caller passes ("es"), used as a fallback


@dataclass(frozen=True)
class Screening:
    route: Route
    flags: tuple[str, ...] = ()
    rule_id: str | None = None  # which rule fired, for staff and tests
    reply_key: str | None = None  # the catalogue message to show (emergency, crisis, urgent, refuse...)
    first_aid: str | None = None  # catalogue key: what to do while waiting, where a public source says so


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    publisher: str


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    language: str
    summary: str
    sources: tuple[Source, ...]
    last_reviewed: datetime.date
    review_due: datetime.date
    body: str
    path: str
    aliases: tuple[str, ...] = ()
    origin: Literal["curated", "imported"] = "curated"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    language: str
    sources: tuple[Source, ...]
    aliases: tuple[str, ...] = ()
    origin: str = "curated"


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    score: float  # dense cosine similarity to the search text, used for the relevance threshold
    fused: float = 0.0  # reciprocal-rank-fusion score, used for ordering


@dataclass(frozen=True)
class Retrieval:
    passages: tuple[Passage, ...]
    search_text: str
    relevant: bool
    language: str  # language of the passages used
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prompt:
    system: str
    messages: tuple[Turn, ...]
    prefill: str = ""  # the start of the answer, from the curated text; the model continues it


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    kept: bool
    reason: str  # "supported" or why it was dropped
    support: float = 0.0  # best semantic similarity to a passage sentence
    coverage: float = 0.0  # share of content words found in the passages
    passage: int | None = None  # index into the retrieved passages of the best match


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    url: str
    score: float


@dataclass(frozen=True)
class Reply:
    question: str
    text: str
    language: str
    route: Route
    flags: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    checks: tuple[SentenceCheck, ...] = ()
    passages: tuple[Passage, ...] = ()
    prompt: Prompt | None = None
    reply_id: str = ""  # set by the web service: what patient feedback and the audit trail refer to


@dataclass(frozen=True)
class Delta:
    """A verified sentence (or a fixed text) ready to show."""

    text: str


@dataclass(frozen=True)
class Done:
    reply: Reply


Event = Delta | Done
