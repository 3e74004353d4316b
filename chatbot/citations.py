"""Citations: which topics the shown answer rests on, with their first source link."""

from __future__ import annotations

from typing import Sequence

from chatbot.types import Citation, Passage, SentenceCheck


def cite(passages: Sequence[Passage], checks: Sequence[SentenceCheck], used: Sequence[int] = ()) -> tuple[Citation, ...]:
    """Topics behind the kept sentences (and any passages used verbatim), in order of first use."""
    order: list[int] = [c.passage for c in checks if c.kept and c.passage is not None] + list(used)
    citations: dict[str, Citation] = {}
    for i in order:
        if not 0 <= i < len(passages):
            continue
        chunk = passages[i].chunk
        key = f"{chunk.language}/{chunk.doc_id}"
        if key not in citations:
            citations[key] = Citation(chunk.doc_id, chunk.title, chunk.sources[0].url, round(passages[i].score, 4))
    return tuple(citations.values())
