"""Stage 3c: hybrid retrieval. Dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank fusion,
preferring guidance in the patient's language, with a relevance threshold that decides `no_answer`."""

from __future__ import annotations

import math
import re
from collections import Counter

from chatbot.embedding import Embedder
from chatbot.glossary import Glossary
from chatbot.index import KnowledgeIndex, LanguageIndex, search_dense, search_lexical
from chatbot.text import tokens
from chatbot.types import Chunk, Passage, Query, Retrieval

RRF_K = 60
# Spanish words that say nothing about the topic, left out of the lexical coverage (`tokens` already drops the
# stopwords in chatbot/text.py). Chinese keeps every character and pair: its function characters are common in the
# guidance too, so their weight is low anyway.
FUNCTION_WORDS = frozenset(
    "algo alguien bien cual cuándo debe deben debo donde dónde era eso esto estoy está hace hacer hago mal mas nada "
    "ni nos otra otro pasa poder porque puedo sobre tambien también te tener tengo tiene tienen toda todo u".split())
CANDIDATES = 20
LEXICAL_COVERAGE = 0.35  # outside them, the share of the question's (IDF-weighted) search words the best passage has
FOLLOW_UP_WORDS = 8
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|is it|are they|does it|do they|can it|y |pero |también|"
    r"qué pasa con|y si|那|那么|还有|如果)\b|\b(it|this|that|they|them|those|these|ello|eso|esto)\b",
    re.IGNORECASE,
)


def search_text(query: Query, text: str) -> str:
    """The text to search with: a short or referring follow-up is joined to the previous user question."""
    previous = [t.content for t in query.history if t.role == "user"]
    if previous and (len(text.split()) <= FOLLOW_UP_WORDS or _FOLLOW_UP.search(text)):
        return f"{previous[-1]} {text}"
    return text


class Retriever:
    def __init__(self, index: KnowledgeIndex, embedder: Embedder, top_k: int = 3, min_relevance: float = 0.45,
                 fallback_language: str = "en", dense_languages: tuple[str, ...] = ("en",),
                 glossaries: dict[str, Glossary] | None = None):
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.index, self.embedder = index, embedder
        self.top_k, self.min_relevance, self.fallback_language = top_k, min_relevance, fallback_language
        self.dense_languages = dense_languages
        self.glossaries = glossaries or {}  # language -> English search words, for languages we hold no guidance in
        # outside the embedder's languages: each chunk's search words, once, for the lexical coverage
        self._words = {lang: [frozenset(tokens(_coverage_text(c))) for c in li.chunks]
                       for lang, li in index.languages.items() if lang not in dense_languages}
        self._idf = {lang: _idf(words) for lang, words in self._words.items()}

    def retrieve(self, text: str, lang: str) -> Retrieval:
        vectors = {}  # embedded only where a language the embedder reads is searched, and once per text
        query_tokens = tokens(text)
        tried = [lang] + ([self.fallback_language] if lang != self.fallback_language else [])
        best: tuple[Passage, ...] = ()
        for candidate_lang in tried:
            li = self.index.languages.get(candidate_lang)
            if li is None:
                continue
            searched, search_tokens, via = text, query_tokens, ()
            if candidate_lang != lang and lang in self.glossaries and candidate_lang == "en":
                # the glossary's English words, and the English words patients mix in ("asthma inhaler कैसे use करें?")
                searched = " ".join(filter(None, [self.glossaries[lang].translate(text), *_LATIN_WORD.findall(text)]))
                if not searched:
                    continue
                search_tokens, via = tokens(searched), ("glossary",)
            if candidate_lang in self.dense_languages:
                if searched not in vectors:
                    vectors[searched] = self.embedder.embed([searched])[0]
                passages = self._rank(li, vectors[searched], search_tokens)
                relevant = bool(passages) and max(p.score for p in passages) >= self.min_relevance
            else:
                passages = self._rank_lexical(li, search_tokens, candidate_lang)
                relevant = bool(passages) and passages[0].score >= LEXICAL_COVERAGE
            if relevant:
                flags = ("english_source",) + via if candidate_lang != lang else ()
                return Retrieval(passages, searched, True, candidate_lang, flags)
            best = best or passages
        return Retrieval(best, text, False, lang)

    def _rank_lexical(self, li: LanguageIndex, query_tokens: list[str], lang: str) -> tuple[Passage, ...]:
        """In a language the embedder was not trained on, its cosines run high for unrelated text ("什么是哮喘？"
        came closest to the missed-doses topic), so passages come from the lexical search alone. The score is the
        IDF-weighted share of the question's search words that the passage has; passages after the first must come
        from its topic."""
        ranked = search_lexical(li, query_tokens, CANDIDATES)
        if not ranked:
            return ()
        idf, words = self._idf[lang], self._words[lang]
        wanted = {t: idf.get(t, idf[""]) for t in set(query_tokens) if _topical(t)}
        total = sum(wanted.values()) or 1.0
        top_doc = li.chunks[ranked[0][0]].doc_id
        chosen = []
        for rank, (i, _) in enumerate(ranked):
            chunk = li.chunks[i]
            if chunk.doc_id != top_doc:
                continue
            coverage = sum(w for t, w in wanted.items() if t in words[i]) / total
            chosen.append(Passage(chunk, coverage, 1.0 / (RRF_K + rank + 1)))
            if len(chosen) == self.top_k:
                break
        return tuple(sorted(chosen, key=lambda p: p.score, reverse=True))

    def _rank(self, li: LanguageIndex, vector, query_tokens: list[str]) -> tuple[Passage, ...]:
        """Dense and lexical rankings fused (reciprocal rank fusion), in a language the embedder reads."""
        dense = search_dense(li, vector, CANDIDATES)
        lexical = search_lexical(li, query_tokens, CANDIDATES)
        cosine = dict(dense)
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for rank, (i, _) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        missing = [i for i in fused if i not in cosine]
        if missing:  # lexical-only hits still need a dense score for the threshold
            vectors = li.dense.reconstruct_batch(missing)
            cosine.update({i: float(v @ vector) for i, v in zip(missing, vectors)})
        order = sorted(fused, key=lambda i: (fused[i], cosine[i]), reverse=True)
        # the relevance of the answer rests on its best passage; weaker ones are context only
        floor = max(cosine.values(), default=0.0) - 0.15
        chosen = [i for i in order if cosine[i] >= floor][: self.top_k]
        return tuple(Passage(li.chunks[i], cosine[i], fused[i]) for i in chosen)


def _coverage_text(chunk: Chunk) -> str:
    return f"{chunk.title} {chunk.section} {chunk.text}"


def _idf(chunk_words: list[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each search word over a language's chunks; "" holds the weight of a word no
    chunk has (as rare as a word one chunk has: a question about something the library lacks is not covered)."""
    df: Counter[str] = Counter()
    for words in chunk_words:
        df.update(words)
    n = len(chunk_words)
    idf = {t: math.log(1 + n / (1 + c)) for t, c in df.items()}
    idf[""] = math.log(1 + n / 2)
    return idf


def _topical(token: str) -> bool:
    """Whether a search word can say what a question is about: not a number ("39 度") or a function word."""
    return not (token.isdigit() or token in FUNCTION_WORDS)
