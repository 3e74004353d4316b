"""Stage 6: verify the draft sentence by sentence against the retrieved passages before the patient sees it.

A sentence is shown only when it is semantically close to a passage sentence, most of its content words occur in
the passages, every number, dose unit and medicine name in it occurs in the passages, it links nowhere else, and it
does not diagnose the patient or set a dose."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Iterator, Sequence

import yaml

import numpy as np

from chatbot.embedding import Embedder
from chatbot.text import clean_sentence, content_words, dose_units, latin_length, numbers, split_sentences
from chatbot.types import Passage, SentenceCheck

DRUGS_FILE = Path(__file__).parent / "rules" / "drugs.yaml"
_CITATION = re.compile(r"\s*\[(\d+)\]")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_DIAGNOSIS = re.compile(
    r"\byou (probably |likely |may |might |most likely |definitely )?(have|are suffering from|are having)\b"
    r"(?! (a |an )?(question|right|choice|time|appointment|doctor|care team|symptoms? that))"
    r"|\b(this|it|that) (is|sounds like|could be|might be|may be|looks like) (a |an )?(case of|sign that you have)"
    r"|\b(this|it|that)( sounds like| could be| might be| may be| looks like| seems like|'?s probably|'?s likely|"
    r" is probably| is likely| is most likely| is definitely|'?s definitely) (a |an )?(\w+ ){0,2}(infection|disease|disorder|syndrome|attack|allergy|virus|"
    r"flu|cold|cancer|diabetes|migraine|strep|uti|stroke|reaction)\b"
    r"|\b(sounds|seems|looks) like you (have|are having|might have|may have|could have)\b|\byou seem to have\b"
    r"|\b(parece que|probablemente|seguramente) (usted )?tiene\b|(听起来)?[你您](可能|应该|大概|肯定)?(是|得了|患了|患有)"
    r"|\byour (diagnosis|condition) is\b|\byou'?re (having|suffering)\b"
    r"|\b(usted )?tiene (usted )?(un|una) (infección|infeccion|enfermedad|caso)\b|[你您](得了|患有|有).{0,6}(病|症|炎)",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(r"\b(if|when|whether|unless|until|once|while|because|people who|anyone who|si|cuando)\b"
                          r"|如果|假如|要是|一旦", re.IGNORECASE)


def _diagnoses(text: str) -> bool:
    """Diagnosis wording that is not part of a condition ("if you have a fever, ..." only explains)."""
    for match in _DIAGNOSIS.finditer(text):
        clause = re.split(r"[,，]", text[: match.start()])[-1]
        if not _CONDITIONAL.search(clause):
            return True
    return False


_DOSING = re.compile(
    r"\b(you should|you can|take|give (him|her|them|your child)?)\b.{0,30}\b\d+(\.\d+)?\s?(mg|mcg|ml|milligrams?|"
    r"tablets?|pills?|capsules?|units?)\b",
    re.IGNORECASE,
)
_SENTENCE_BOUNDARY = re.compile(r"[.!?。！？][\"')\]]*(?=\s|$)|[。！？][\"')\]]*|\n")
_FINAL_PUNCTUATION = re.compile(r"[.!?。！？][\"')\]]*$")
MIN_SENTENCE_CHARS = 12


@dataclass(frozen=True)
class Evidence:
    """What the draft is checked against: the passages' sentences, embedded once per reply."""

    sentences: tuple[str, ...]
    owners: tuple[int, ...]  # passage index of each sentence
    vectors: np.ndarray
    words: frozenset[str]
    numbers: frozenset[str]
    units: frozenset[str]
    urls: frozenset[str]
    passage_count: int
    drugs: frozenset[str] = frozenset()


class SentenceCache:
    """Embeddings of passage sentences, kept across replies: popular topics are embedded once."""

    def __init__(self, embedder: Embedder, capacity: int = 20_000):
        self.embedder, self.capacity = embedder, capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros((0, 1), np.float32)
        with self._lock:
            known = {s: self._vectors[s] for s in dict.fromkeys(sentences) if s in self._vectors}
        missing = [s for s in dict.fromkeys(sentences) if s not in known]
        if missing:
            known.update(zip(missing, self.embedder.embed(missing)))
        with self._lock:  # store for later replies; this call's result never depends on what survives eviction
            for s in missing:
                self._vectors[s] = known[s]
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
        return np.stack([known[s] for s in sentences])


def build_evidence(passages: Sequence[Passage], cache: SentenceCache) -> Evidence:
    sentences, owners = [], []
    for i, passage in enumerate(passages):
        for sentence in split_sentences(f"{passage.chunk.title}. {passage.chunk.text}"):
            sentences.append(sentence)
            owners.append(i)
    text = " ".join(sentences)
    urls = {s.url for p in passages for s in p.chunk.sources}
    return Evidence(tuple(sentences), tuple(owners), cache.embed(sentences), frozenset(content_words(text)),
                    frozenset(numbers(text)), frozenset(dose_units(text)), frozenset(urls), len(passages),
                    drug_names(text))


class Verifier:
    def __init__(self, embedder: Embedder, support_threshold: float = 0.7, min_coverage: float = 0.8):
        self.embedder = embedder
        self.support_threshold, self.min_coverage = support_threshold, min_coverage

    def verify(self, sentence: str, evidence: Evidence) -> SentenceCheck:
        text, bad_refs = strip_citations(clean_sentence(sentence), evidence.passage_count)
        reason = self._rule_failure(text, evidence)
        if reason:
            return SentenceCheck(text, False, reason)
        if not evidence.sentences:
            return SentenceCheck(text, False, "unsupported")
        similarities = evidence.vectors @ self.embedder.embed([text])[0]
        best = int(np.argmax(similarities))
        support, passage = float(similarities[best]), evidence.owners[best]
        # words are checked against the best-matching passage sentence and its neighbours, not the whole
        # evidence: a sentence stitched from words of unrelated passages is not supported by any of them
        local = " ".join(evidence.sentences[i] for i in range(max(best - 1, 0), best + 2)
                         if i < len(evidence.sentences) and evidence.owners[i] == passage)
        words = content_words(text)
        coverage = len(words & content_words(local)) / len(words) if words else 0.0
        if support < self.support_threshold:
            return SentenceCheck(text, False, "unsupported", support, coverage, passage)
        if coverage < self.min_coverage:
            return SentenceCheck(text, False, "words_not_in_sources", support, coverage, passage)
        if _negated(text) != _negated(evidence.sentences[best]):
            return SentenceCheck(text, False, "negation_mismatch", support, coverage, passage)
        return SentenceCheck(text, True, "supported" + (" (bad citation dropped)" if bad_refs else ""),
                             support, coverage, passage)

    @staticmethod
    def _rule_failure(text: str, evidence: Evidence) -> str | None:
        if latin_length(text) < MIN_SENTENCE_CHARS or not any(ch.isalpha() for ch in text):
            return "too_short"
        if _diagnoses(text):
            return "diagnosis"
        if any(url.rstrip(".,;)") not in evidence.urls for url in _URL.findall(text)):
            return "foreign_link"
        if not numbers(text) <= evidence.numbers:
            return "number_not_in_sources"
        if not drug_names(text) <= evidence.drugs:
            return "drug_not_in_sources"
        if not dose_units(text) <= evidence.units or _DOSING.search(text) and not numbers(text) <= evidence.numbers:
            return "dose_not_in_sources"
        return None


@lru_cache(maxsize=1)
def _drug_pattern() -> re.Pattern[str]:
    data = yaml.safe_load(DRUGS_FILE.read_text(encoding="utf-8"))
    latin = sorted({str(n).lower() for lang in ("en", "es") for n in data.get(lang, ())}, key=len, reverse=True)
    han = sorted({str(n) for n in data.get("zh", ())}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, latin)) + r")\b|(" + "|".join(map(re.escape, han)) + ")",
                      re.IGNORECASE)


def drug_names(text: str) -> frozenset[str]:
    """Medicine names in the text, lower-cased (see rules/drugs.yaml)."""
    return frozenset(m.group(0).lower() for m in _drug_pattern().finditer(text))


_NEGATION = re.compile(r"\b(not|no|never|don'?t|doesn'?t|isn'?t|aren'?t|can'?t|cannot|won'?t|shouldn'?t|avoid|"
                       r"nunca|no|sin)\b|不|没|别|勿", re.IGNORECASE)


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def strip_citations(text: str, passage_count: int) -> tuple[str, list[int]]:
    """Remove [n] markers; return the ones out of range so the caller can log them. Never shown either way."""
    bad = [int(n) for n in _CITATION.findall(text) if not 1 <= int(n) <= passage_count]
    return _CITATION.sub("", text).strip(), bad


def stream_sentences(pieces: Iterator[str]) -> Iterator[tuple[str, bool]]:
    """Buffer streamed text and yield (sentence, complete) as soon as each sentence ends. The text left when the
    stream stops is complete only if it ends like a sentence: a draft cut off by the length limit is not."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while True:
            cut = _complete_sentence_end(buffer)
            if cut is None:
                break
            sentence, buffer = buffer[:cut], buffer[cut:]
            yield from ((s, True) for s in split_sentences(sentence))
    rest = split_sentences(buffer)
    for i, sentence in enumerate(rest):
        yield sentence, i < len(rest) - 1 or bool(_FINAL_PUNCTUATION.search(sentence))


def _complete_sentence_end(buffer: str) -> int | None:
    """Index just past the first sentence end that is surely final (followed by more text, not a decimal)."""
    for match in _SENTENCE_BOUNDARY.finditer(buffer):
        end = match.end()
        if end >= len(buffer):  # "1." might become "1.5": wait for the next character
            return None
        head = buffer[:end].split()
        if head and head[-1].lower() in {"e.g.", "i.e.", "dr.", "mr.", "mrs.", "vs.", "etc.", "u.s."}:
            continue
        if head and re.fullmatch(r"\d+[.)]", head[-1]):  # a list number, not a sentence
            continue
        return end
    return None
