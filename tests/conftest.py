"""Shared fixtures: a tiny knowledge folder, a deterministic hash embedder and fake generators.

Nothing here loads a real model: unit tests must run fast and offline. The real embedder and generator are
exercised by tests/integration/.
"""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pytest

# Unexpected errors must surface in tests instead of turning into a friendly message at an error boundary.
os.environ["CHATBOT_RAISE_ERRORS"] = "1"

from chatbot.config import Settings  # noqa: E402
from chatbot.errors import GenerationError  # noqa: E402
from chatbot.pipeline import Pipeline  # noqa: E402
from chatbot.types import Prompt  # noqa: E402


# ---------------------------------------------------------------------------------------------- knowledge
def topic(doc_id: str, title: str, language: str, sections: dict[str, str], *,
          url: str | None = None, summary: str | None = None, reviewed: str = "2026-01-15",
          due: str = "2027-01-15") -> str:
    """One knowledge file in the exact format the loader validates."""
    url = url or f"https://medlineplus.gov/{doc_id}.html"
    head = textwrap.dedent(f"""\
        ---
        id: {doc_id}
        title: {title}
        language: {language}
        summary: {summary or title + '.'}
        sources:
          - title: "{title}"
            url: {url}
            publisher: MedlinePlus
        last_reviewed: {reviewed}
        review_due: {due}
        ---
        """)
    body = "\n".join(f"## {heading}\n{text}\n" for heading, text in sections.items())
    return head + "\n" + body


FEVER = {
    "What it is": "Fever is a temperature of 38C or higher. A fever is often a sign that the body is fighting "
                  "an infection.",
    "What helps": "Drink plenty of water and rest. Acetaminophen can help you feel more comfortable.",
    "When to get help now": "Call 911 if a fever comes with a stiff neck or a seizure. Call your clinic if the "
                            "fever lasts more than three days.",
}
ASTHMA = {
    "What it is": "Asthma is a long-term condition that makes the airways in the lungs narrow and swollen. "
                  "It can cause wheezing, coughing and shortness of breath.",
    "What you can do": "Use your inhaler the way your care team showed you. Stay away from smoke, dust and "
                       "other triggers.",
    "When to get help now": "Call 911 if your inhaler does not help and you are struggling to breathe.",
}
BLOOD_PRESSURE = {
    "What it is": "High blood pressure means the force of blood against the artery walls is too high. "
                  "It often has no symptoms.",
    "What you can do": "Eat less salt, walk every day and take your blood pressure medicines as prescribed. "
                       "A reading of 130/80 or higher is high.",
}
FIEBRE = {
    "Qué es": "La fiebre es una temperatura de 38 grados o más. Casi siempre es una señal de que el cuerpo "
              "combate una infección.",
    "Qué hacer": "Tome mucha agua y descanse. Llame a su clínica si la fiebre dura más de tres días.",
}
TINY_TOPICS = {
    ("en", "fever"): ("Fever", FEVER),
    ("en", "asthma"): ("Asthma", ASTHMA),
    ("en", "high-blood-pressure"): ("High blood pressure", BLOOD_PRESSURE),
    ("es", "fever"): ("Fiebre", FIEBRE),
}


def write_knowledge(root: Path) -> Path:
    for (language, doc_id), (title, sections) in TINY_TOPICS.items():
        folder = root / language
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{doc_id}.md").write_text(topic(doc_id, title, language, sections), encoding="utf-8")
    return root


@pytest.fixture
def tiny_knowledge(tmp_path: Path) -> Path:
    """knowledge/en/{fever,asthma,high-blood-pressure}.md and knowledge/es/fever.md."""
    return write_knowledge(tmp_path / "knowledge")


# ---------------------------------------------------------------------------------------------- embedder
_WORDS = re.compile(r"[\u4e00-\u9fff]|[^\W_]+", re.UNICODE)
_STOP = frozenset("""a an the of and or to is are was in on for it its be with at by as that this do does did can
could should would will what how when which who why i me my you your we our he she his her they them about
el la los las un una de del y o que en es se su""".split())


class HashEmbedder:
    """Deterministic stand-in for a sentence embedder: hashed word unigrams and bigrams, L2-normalised.
    Texts that share words are similar; identical texts have cosine 1.0; texts with no shared word, 0.0."""

    def __init__(self, dim: int = 1024, name: str = "hash-embedder"):
        self.name, self._dim = name, dim
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        words = [w for w in _WORDS.findall(text.lower()) if w not in _STOP]
        features = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        vector = np.zeros(self._dim, dtype=np.float32)
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self._dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)


# ---------------------------------------------------------------------------------------------- generators
def prompt_text(prompt: Prompt) -> str:
    """Everything the model is given: the system text and every message."""
    return "\n".join([prompt.system, *(turn.content for turn in prompt.messages)])


def _pieces(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i:i + size]


class EchoGenerator:
    """Streams back the prompt it was given, so a test can assert exactly what the model saw."""

    name = "echo"
    supports_prefill = False

    def __init__(self, piece_size: int = 7):
        self.piece_size = piece_size
        self.prompts: list[Prompt] = []

    @property
    def seen(self) -> str:
        assert self.prompts, "the generator was never called"
        return prompt_text(self.prompts[-1])

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self.prompts.append(prompt)
        yield from _pieces(prompt_text(prompt), self.piece_size)

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


class ScriptedGenerator:
    """Streams a fixed answer in small pieces (split mid-word, as tokens are)."""

    name = "scripted"
    supports_prefill = False

    def __init__(self, text: str, piece_size: int = 5):
        self.text, self.piece_size = text, piece_size
        self.prompts: list[Prompt] = []

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self.prompts.append(prompt)
        yield from _pieces(self.text, self.piece_size)

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


class FailingGenerator:
    """Raises GenerationError, optionally after streaming some text first."""

    name = "failing"
    supports_prefill = False

    def __init__(self, before: str = "", piece_size: int = 5):
        self.before, self.piece_size = before, piece_size
        self.calls = 0

    def stream(self, prompt: Prompt) -> Iterator[str]:
        self.calls += 1
        yield from _pieces(self.before, self.piece_size)
        raise GenerationError("The model server failed: ReadTimeout.")

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))


class NeverCalledGenerator:
    """Fails the test if the pipeline asks it for anything."""

    name = "never-called"
    supports_prefill = False

    def stream(self, prompt: Prompt) -> Iterator[str]:
        pytest.fail("the generator was called, but this message must never reach a model")

    def generate(self, prompt: Prompt) -> str:
        pytest.fail("the generator was called, but this message must never reach a model")


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def echo() -> EchoGenerator:
    return EchoGenerator()


@pytest.fixture
def scripted() -> Callable[..., ScriptedGenerator]:
    return ScriptedGenerator


@pytest.fixture
def failing() -> Callable[..., FailingGenerator]:
    return FailingGenerator


@pytest.fixture
def never_called() -> NeverCalledGenerator:
    return NeverCalledGenerator()


@pytest.fixture
def hash_embedder_class() -> type[HashEmbedder]:
    return HashEmbedder


# ---------------------------------------------------------------------------------------------- settings, pipeline
# The hash embedder's cosines run lower than a sentence model's for short questions against whole sections, so
# the relevance floor is set for it; every other threshold keeps its shipped default.
HASH_MIN_RELEVANCE = 0.15


@pytest.fixture
def settings(tiny_knowledge: Path, tmp_path: Path) -> Settings:
    return Settings().replace(knowledge_dir=tiny_knowledge, index_dir=tmp_path / "index",
                              cache_dir=tmp_path / "cache", min_relevance=HASH_MIN_RELEVANCE)


@pytest.fixture
def make_pipeline(settings: Settings) -> Callable[..., Pipeline]:
    def build(generator=None, **changes) -> Pipeline:
        return Pipeline(settings.replace(**changes), embedder=HashEmbedder(),
                        generator=generator if generator is not None else EchoGenerator())
    return build


@pytest.fixture
def pipeline(make_pipeline) -> Pipeline:
    """A pipeline on the tiny knowledge with the hash embedder and an echo generator."""
    return make_pipeline()
