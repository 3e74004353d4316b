"""The extractive answer: the curated sentences most relevant to the question, used when generation fails, is not
supported, or the generator does not write the patient's language."""

from __future__ import annotations

import re

import numpy as np

from chatbot.text import latin_length
from chatbot.verification import Evidence

MAX_SENTENCES = 3
_REFERENCE = re.compile(r"^(it|they|them|these|those|this|that|he|she|also|both|so|but|and|or|ellos|ellas|esto|eso|"
                        r"estos|estas|también)\b", re.IGNORECASE)


def starts_with_reference(sentence: str) -> bool:
    """True for a sentence that leans on the one before it ("They are also used for...")."""
    return bool(_REFERENCE.match(sentence.strip()))


def extract_answer(question_vector: np.ndarray, evidence: Evidence, exclude: set[str] = frozenset(),
                   max_sentences: int = MAX_SENTENCES) -> list[tuple[str, int]]:
    """Up to `max_sentences` consecutive (sentence, passage index) pairs: the window of one passage that is most
    similar to the question on average. Consecutive sentences read as the curated text was written."""
    if not evidence.sentences:
        return []
    scores = evidence.vectors @ question_vector
    usable = [i for i, s in enumerate(evidence.sentences)
              if s not in exclude and latin_length(s) > 20 and s.rstrip()[-1:] not in {":", "："}]
    best, best_score = [], -1.0
    for start in usable:
        if starts_with_reference(evidence.sentences[start]):
            continue  # a window must not open with a sentence that points back to one not shown
        window = [i for i in usable if i >= start and evidence.owners[i] == evidence.owners[start]][:max_sentences]
        # the best sentence matters most; the window's mean keeps the rest on topic
        score = 0.6 * float(scores[window[0]]) + 0.4 * float(np.mean(scores[window]))
        if score > best_score:
            best, best_score = window, score
    return [(evidence.sentences[i], evidence.owners[i]) for i in best]
