"""Stage 1b: the semantic screening layer, for wordings the rules miss ("feels like an elephant on my chest",
"his words come out all jumbled", "ya no quiero despertar").

A small classifier over character and word n-grams, trained at start-up on our own labelled exemplar bank
(chatbot/rules/exemplars*.yaml: emergency, crisis, urgent, refuse and benign look-alikes, in en/es/zh).
Character n-grams need no tokenizer, so they work for Chinese as well, and they tolerate typos. It is
deterministic, runs in well under a millisecond, and needs no language model: it works with every model down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from chatbot.normalize import normalize_text

log = logging.getLogger(__name__)
EXEMPLAR_DIR = Path(__file__).parent / "rules"
BENIGN = "benign"
LABELS = ("emergency", "crisis", "urgent", "refuse", BENIGN)


@dataclass(frozen=True)
class Verdict:
    label: str  # the most likely label other than benign
    probability: float  # its probability


def load_exemplars(folder: Path = EXEMPLAR_DIR) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for path in sorted(folder.glob("exemplars*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for label, by_language in data.items():
            if label not in LABELS:
                raise ValueError(f"{path}: unknown label {label!r}")
            for items in (by_language or {}).values():
                for text in items or ():
                    texts.append(prepare(str(text)))
                    labels.append(label)
    return texts, labels


def prepare(text: str) -> str:
    return normalize_text(text).lower()


class SemanticScreener:
    def __init__(self, folder: Path = EXEMPLAR_DIR, c: float = 10.0, cache_dir: Path | None = None):
        self.folder, self.c = folder, c
        self.cache_dir = cache_dir or Path(os.environ.get("CHATBOT_CACHE_DIR") or EXEMPLAR_DIR.parent.parent / ".cache")
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self):
        with self._lock:
            if self._model is None:
                path = self.cache_dir / f"semantic-{self._key()}.pkl"  # exemplars are read for the key once
                self._model = self._cached(path) or self._train(path)
        return self._model

    def _key(self) -> str:
        import sklearn

        digest = hashlib.sha256(f"{sklearn.__version__}|{self.c}".encode())
        for path in sorted(self.folder.glob("exemplars*.yaml")):
            digest.update(path.name.encode() + path.read_bytes())
        return digest.hexdigest()[:16]

    @staticmethod
    def _cached(path: Path):
        """A model trained earlier on the same exemplars with the same scikit-learn (it is our own file)."""
        try:
            return pickle.loads(path.read_bytes()) if path.is_file() else None
        except Exception as error:  # a truncated or foreign file: train again
            log.warning("ignoring the cached screening model %s (%s)", path, error.__class__.__name__)
            return None

    def _train(self, path: Path):
        model = build_model(self.c).fit(*load_exemplars(self.folder))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(model))
            tmp.replace(path)
        except OSError as error:  # read-only disk: keep the model in memory only
            log.warning("cannot cache the screening model: %s", error)
        return model

    def verdict(self, text: str) -> Verdict:
        model = self._load()
        probabilities = model.predict_proba([prepare(text)])[0]
        ranked = sorted((p, label) for p, label in zip(probabilities, model.classes_) if label != BENIGN)
        probability, label = ranked[-1]
        return Verdict(str(label), float(probability))


def build_model(c: float):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"),
    )
    return make_pipeline(features, LogisticRegression(C=c, class_weight="balanced", max_iter=3000, tol=1e-3))


SCREENER = SemanticScreener()
