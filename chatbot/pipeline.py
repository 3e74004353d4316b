"""The orchestrator: the only place that calls the stages, in order, returning early when a stage decides."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from chatbot import messages
from chatbot.citations import cite
from chatbot.config import Settings
from chatbot.embedding import Embedder, embedder_from_settings
from chatbot.errors import GenerationError, ModelMissingError
from chatbot.fallback import extract_answer, starts_with_reference
from chatbot.generation import Generator, make_generator
from chatbot.health import GeneratorHealth
from chatbot.glossary import load_glossaries
from chatbot.index import IndexInfo, KnowledgeIndex, ensure_index
from chatbot.knowledge import LoadReport, documents_to_index, load_library
from chatbot.language import detect_language, reply_language
from chatbot.normalize import has_words, normalize_text
from chatbot.prompting import render_prompt
from chatbot.retrieval import Retriever, search_text
from chatbot.screening import screen_with
from chatbot.semantic import SCREENER
from chatbot.types import Delta, Done, Event, Query, Reply, Retrieval, Screening, SentenceCheck
from chatbot.verification import SentenceCache, Verifier, build_evidence, stream_sentences

log = logging.getLogger(__name__)
SCREEN_LIMIT = 20_000  # screening reads this much of any message, however long; rules are linear-time
EARLY_ROUTES = frozenset({"emergency", "crisis", "refuse"})
MIN_KEPT_SENTENCES = 2  # one verified sentence alone rarely answers a question: curated text completes it


@dataclass
class Timer:
    start: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, round((time.perf_counter() - self.start) * 1000, 2))

    def done(self) -> dict[str, float]:
        self.mark("total")
        self.marks.setdefault("first_sentence", self.marks["total"])
        return dict(self.marks)


@dataclass
class _Draft:
    """What has been shown so far in one reply."""

    parts: list[str] = field(default_factory=list)
    checks: list[SentenceCheck] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def add(self, text: str, paragraph: bool = False) -> Delta:
        sep = "" if not self.parts else ("\n\n" if paragraph else " ")
        self.parts.append(sep + text)
        return Delta(sep + text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Pipeline:
    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None):
        self.settings = settings or Settings.load()
        self._embedder, self._generator = embedder, generator
        self._index: KnowledgeIndex | None = None
        self.index_info: IndexInfo | None = None
        self.knowledge: LoadReport | None = None
        self._retriever: Retriever | None = None
        self._verifier: Verifier | None = None
        self._cache: SentenceCache | None = None
        self._lock = threading.RLock()
        self.health = GeneratorHealth()

    @property
    def generator_failures(self) -> int:
        """Consecutive generation failures; health reports "degraded" while above zero."""
        return self.health.failures

    @generator_failures.setter
    def generator_failures(self, value: int) -> None:
        self.health.failures = value

    # ------------------------------------------------------------------ heavy parts, loaded once, lazily
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                self._generator = make_generator(self.settings)
            return self._generator

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self.knowledge = load_library(self.settings.library_dirs)  # curated + imported
                for problem in self.knowledge.problems:
                    log.warning("knowledge file skipped: %s", problem)
                documents = documents_to_index(self.knowledge.documents, self.settings.exclude_overdue)
                self._index, self.index_info = ensure_index(self.settings.resolved_index_dir, documents,
                                                            self.embedder)
                self._retriever = Retriever(self._index, self.embedder, self.settings.top_k,
                                            self.settings.min_relevance, "en", self.settings.embedder_languages,
                                            load_glossaries())
                self._cache = SentenceCache(self.embedder)
                self._verifier = Verifier(self.embedder, self.settings.support_threshold, self.settings.min_coverage)
            return self._retriever

    def warm_up(self) -> None:
        """Load the index, the embedder and the generator now instead of on the first question."""
        self.retriever
        self.embedder.embed(["warm up"])
        detect_language("warm up the language profiles")
        if self.settings.semantic_screening:
            SCREENER.warm_up()
        warm = getattr(self.generator, "warm_up", None)
        if warm:
            warm()

    # ------------------------------------------------------------------ the flow
    def answer(self, query: Query) -> Reply:
        for event in self.stream(query):
            if isinstance(event, Done):
                return event.reply
        raise AssertionError("stream() ended without a reply")

    def stream(self, query: Query) -> Iterator[Event]:
        timer, draft = Timer(), _Draft()
        text = normalize_text(query.text)
        screening = screen_with(text[:SCREEN_LIMIT], self.settings)
        timer.mark("screen")
        lang = self._language(text, query)
        timer.mark("language")
        if screening.route in EARLY_ROUTES:
            yield draft.add(self._say(screening.reply_key, lang))
            if screening.first_aid and messages.has_message(screening.first_aid, lang):
                yield draft.add(self._say(screening.first_aid, lang), paragraph=True)
            yield self._done(query, draft, lang, screening.route, screening.flags, timer)
            return
        problem = self._input_problem(text)
        if problem:
            yield draft.add(self._say(problem, lang))
            yield self._done(query, draft, lang, "no_answer", (f"input_{problem}",), timer)
            return
        yield from self._answer(query, text, lang, screening, timer, draft)

    def _answer(self, query: Query, text: str, lang: str, screening: Screening, timer: Timer,
                draft: _Draft) -> Iterator[Event]:
        draft.flags.extend(screening.flags)
        if screening.reply_key:  # urgent or individual advice: the pointer comes first, education follows
            yield draft.add(self._say(screening.reply_key, lang))
        retrieval = self.retriever.retrieve(search_text(query, text), lang)
        timer.mark("retrieve")
        if not retrieval.relevant:
            yield draft.add(self._say("no_answer", lang), paragraph=True)
            route = "urgent" if screening.route == "urgent" else "no_answer"
            yield self._done(query, draft, lang, route, (), timer, retrieval)
            return
        draft.flags.extend(retrieval.flags)
        if "english_source" in retrieval.flags:
            yield draft.add(self._say("english_source", lang), paragraph=bool(draft.parts))
        evidence = build_evidence(retrieval.passages, self._cache)
        # searched through the glossary: the English search words stand for the question
        question_vector = self.embedder.embed([retrieval.search_text if "glossary" in retrieval.flags else text])[0]
        writes = lang in self.settings.generator_languages and retrieval.language in self.settings.generator_languages
        prompt, used = None, []
        if writes:
            prompt = render_prompt(self.settings.prompts_dir, text, retrieval.passages,
                                   self._prefill(question_vector, evidence))
            yield from self._generate_verified(prompt, evidence, timer, draft)
        else:
            draft.flags.append("curated_text")
        kept = [c for c in draft.checks if c.kept]
        if len(kept) < MIN_KEPT_SENTENCES or len(kept) < self.settings.min_kept_ratio * len(draft.checks):
            if writes:
                draft.flags.append("fallback")
                yield draft.add(self._say("fallback_intro", lang), paragraph=True)
            shown = {c.text for c in kept}
            for i, (sentence, owner) in enumerate(extract_answer(question_vector, evidence, shown)):
                used.append(owner)
                yield draft.add(sentence, paragraph=(i == 0 and not writes and bool(draft.parts)))
                timer.mark("first_sentence")
        route = screening.route if screening.route == "urgent" else ("fallback" if "fallback" in draft.flags else "answer")
        yield self._done(query, draft, lang, route, (), timer, retrieval, used, prompt)

    def _generate_verified(self, prompt, evidence, timer: Timer, draft: _Draft) -> Iterator[Event]:
        deadline = time.monotonic() + 3 * self.settings.generation_timeout_s
        pieces = None
        if self.health.paused():  # the backend failed several times just now: do not make this patient wait too
            draft.flags.extend(("generation_failed", "generator_paused"))
            timer.mark("generate")
            return
        try:
            pieces = self.generator.stream(prompt)
            for sentence, complete in stream_sentences(itertools.chain([prompt.prefill], pieces)):
                check = self._check(sentence, complete, evidence, draft)
                draft.checks.append(check)
                if check.kept:
                    yield draft.add(check.text, paragraph=len(draft.checks) == 1 and bool(draft.parts))
                    timer.mark("first_sentence")
                if _looping(draft.checks):
                    draft.flags.append("generation_repeating")
                    break
                if _failing(draft.checks, self.settings.min_kept_ratio):
                    draft.flags.append("generation_unsupported")
                    break
                if time.monotonic() > deadline:
                    draft.flags.append("generation_timeout")
                    break
            self.health.success()
        except (GenerationError, ModelMissingError) as error:
            self.health.failure(error)
            draft.flags.append("generation_failed")
            log.warning("generation failed (%s); answering from curated text", error)
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()
        timer.mark("generate")

    def _check(self, sentence: str, complete: bool, evidence, draft: _Draft) -> SentenceCheck:
        if not complete:
            return SentenceCheck(sentence, False, "incomplete")
        if not any(c.kept for c in draft.checks) and starts_with_reference(sentence):
            return SentenceCheck(sentence, False, "dangling_reference")
        check = self._verifier.verify(sentence, evidence)
        if any(c.text == check.text for c in draft.checks):
            return SentenceCheck(check.text, False, "repeated", check.support, check.coverage, check.passage)
        return check

    # ------------------------------------------------------------------ helpers
    def _language(self, text: str, query: Query) -> str:
        earlier = [normalize_text(t.content) for t in query.history if t.role == "user"]
        return reply_language(text, earlier, query.locale, self.settings.default_language)

    def _input_problem(self, text: str) -> str | None:
        if not text:
            return "empty"
        if not has_words(text):
            return "no_text"
        if len(text) > self.settings.max_question_chars:
            return "too_long"
        return None

    def _prefill(self, question_vector, evidence) -> str:
        """The first words of the most relevant curated sentence: a small model continues such a start faithfully
        far more often than it writes from scratch. Backends that cannot continue an answer get none."""
        if not self.settings.prefill_words or not getattr(self.generator, "supports_prefill", False):
            return ""
        lead = extract_answer(question_vector, evidence, max_sentences=1)
        return " ".join(lead[0][0].split()[: self.settings.prefill_words]) if lead else ""

    def _say(self, key: str | None, lang: str) -> str:
        return messages.message(key or "error", lang, self.settings)

    def _done(self, query: Query, draft: _Draft, lang: str, route: str, flags: tuple[str, ...], timer: Timer,
              retrieval: Retrieval | None = None, used: list[int] | None = None, prompt=None) -> Done:
        passages = retrieval.passages if retrieval and retrieval.relevant else ()
        all_flags = tuple(dict.fromkeys([*draft.flags, *flags]))
        reply = Reply(
            question=query.text, text=draft.text, language=lang, route=route, flags=all_flags,
            citations=cite(passages, draft.checks, used or ()), timings_ms=timer.done(),
            checks=tuple(draft.checks), passages=passages, prompt=prompt,
        )
        log.info("reply route=%s lang=%s flags=%s total_ms=%.0f", route, lang, ",".join(all_flags),
                 reply.timings_ms["total"])
        return Done(reply)


def _looping(checks: list[SentenceCheck]) -> bool:
    """A small model that starts repeating itself rarely recovers: stop at the second repeat in a row."""
    return len(checks) >= 2 and all(c.reason == "repeated" for c in checks[-2:])


def _failing(checks: list[SentenceCheck], min_kept_ratio: float) -> bool:
    """Stop a draft early once it is clearly not grounded, so the curated answer comes without waiting for it."""
    kept = sum(c.kept for c in checks)
    return (kept == 0 and len(checks) >= 2) or (len(checks) >= 4 and kept < min_kept_ratio * len(checks))


def safe_error_reply(query: Query, settings: Settings) -> Reply:
    """A reply for the error boundary: never a stack trace, always the emergency number."""
    lang = query.locale if query.locale and messages.has_language(query.locale) else settings.default_language
    return Reply(question=query.text, text=messages.message("error", lang, settings),
                 language=lang, route="fallback", flags=("internal_error",),
                 timings_ms={"screen": 0.0, "retrieve": 0.0, "first_sentence": 0.0, "total": 0.0})
