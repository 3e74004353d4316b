"""The search index: saved with a manifest, reloaded only when it still matches the knowledge and embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import IndexProblem
from chatbot.index import (build_index, dense_text, ensure_index, load_index, save_index, search_dense,
                           search_lexical)
from chatbot.knowledge import load_knowledge
from chatbot.text import tokens


@pytest.fixture
def docs(tiny_knowledge: Path):
    return load_knowledge(tiny_knowledge).documents


@pytest.fixture
def saved(tmp_path: Path, docs, embedder) -> Path:
    folder = tmp_path / "index"
    save_index(build_index(docs, embedder), folder)
    return folder


def test_build_indexes_each_language_separately(docs, embedder) -> None:
    index = build_index(docs, embedder)
    assert sorted(index.languages) == ["en", "es"]
    assert {c.language for c in index.languages["es"].chunks} == {"es"}
    assert index.chunk_count() == index.manifest["chunk_count"] == 10
    assert index.manifest["embedder"] == embedder.name
    assert index.manifest["dim"] == embedder.dim
    assert sorted(index.manifest["documents"]) == ["en/asthma", "en/fever", "en/high-blood-pressure", "es/fever"]


def test_save_and_load_round_trip(saved: Path, docs, embedder) -> None:
    built = build_index(docs, embedder)
    loaded = load_index(saved, embedder, docs)
    assert loaded.version == built.version
    for lang in ("en", "es"):
        assert loaded.languages[lang].chunks == built.languages[lang].chunks
    query = "Drink plenty of water and rest."
    vector = embedder.embed([query])[0]
    en_built, en_loaded = built.languages["en"], loaded.languages["en"]
    assert search_dense(en_loaded, vector, 3) == search_dense(en_built, vector, 3)
    assert search_lexical(en_loaded, tokens(query), 3) == search_lexical(en_built, tokens(query), 3)


def test_save_leaves_no_temporary_folder_and_survives_a_crashed_save(saved: Path, docs, embedder) -> None:
    leftover = saved.with_name(saved.name + ".tmp")
    leftover.mkdir()
    (leftover / "junk").write_text("half-written")
    save_index(build_index(docs, embedder), saved)
    assert not leftover.exists()
    load_index(saved, embedder, docs)


def test_dense_search_finds_the_chunk_it_was_given(docs, embedder) -> None:
    li = build_index(docs, embedder).languages["en"]
    target = next(c for c in li.chunks if c.doc_id == "asthma" and c.section == "What you can do")
    [(best, score), *_] = search_dense(li, embedder.embed([dense_text(target)])[0], 5)
    assert li.chunks[best] == target
    assert score == pytest.approx(1.0, abs=1e-5)


def test_lexical_search_finds_the_chunk_with_the_words(docs, embedder) -> None:
    li = build_index(docs, embedder).languages["en"]
    hits = search_lexical(li, tokens("inhaler wheezing"), 5)
    assert hits and li.chunks[hits[0][0]].doc_id == "asthma"
    assert all(score > 0 for _, score in hits)
    assert search_lexical(li, [], 5) == []
    assert search_lexical(li, tokens("capital of France"), 5) == []


def test_missing_index(tmp_path: Path, embedder) -> None:
    with pytest.raises(IndexProblem) as caught:
        load_index(tmp_path / "nowhere", embedder)
    assert caught.value.reason == "missing"


def test_stale_after_a_knowledge_edit(saved: Path, tiny_knowledge: Path, embedder) -> None:
    fever = tiny_knowledge / "en" / "fever.md"
    fever.write_text(fever.read_text(encoding="utf-8").replace("38C", "39C"), encoding="utf-8")
    with pytest.raises(IndexProblem) as caught:
        load_index(saved, embedder, load_knowledge(tiny_knowledge).documents)
    assert caught.value.reason == "stale"
    assert "changed 1 (en/fever)" in str(caught.value)


def test_stale_after_a_topic_is_added_or_removed(saved: Path, tiny_knowledge: Path, embedder) -> None:
    (tiny_knowledge / "en" / "asthma.md").unlink()
    with pytest.raises(IndexProblem) as caught:
        load_index(saved, embedder, load_knowledge(tiny_knowledge).documents)
    assert caught.value.reason == "stale"
    assert "removed 1 (en/asthma)" in str(caught.value)


def test_stale_with_a_different_embedder(saved: Path, docs, hash_embedder_class) -> None:
    with pytest.raises(IndexProblem) as caught:
        load_index(saved, hash_embedder_class(name="another-model"), docs)
    assert caught.value.reason == "stale"
    assert "another-model" in str(caught.value)


def test_stale_with_a_different_dimension(saved: Path, docs, hash_embedder_class) -> None:
    with pytest.raises(IndexProblem) as caught:
        load_index(saved, hash_embedder_class(dim=512), docs)
    assert caught.value.reason == "stale"


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [
    lambda f: truncate(f / "en.faiss"),
    lambda f: truncate(f / "en.chunks.jsonl"),
    lambda f: truncate(f / "manifest.json"),
    lambda f: truncate(f / "es.bm25" / "vocab.index.json"),
    lambda f: (f / "es.faiss").unlink(),
    lambda f: (f / "en.chunks.jsonl").write_text(
        "\n".join((f / "en.chunks.jsonl").read_text().splitlines()[:-1]) + "\n"),  # one chunk lost
    lambda f: (f / "manifest.json").write_text("[]"),
], ids=["faiss truncated", "chunks truncated", "manifest truncated", "bm25 truncated", "faiss deleted",
        "chunk missing", "manifest not an object"])
def test_corrupt_index(saved: Path, docs, embedder, damage) -> None:
    damage(saved)
    with pytest.raises(IndexProblem) as caught:
        load_index(saved, embedder, docs)
    assert caught.value.reason == "corrupt"


def test_ensure_index_builds_then_loads(tmp_path: Path, docs, embedder) -> None:
    folder = tmp_path / "index"
    first, info = ensure_index(folder, docs, embedder)
    assert info.status == "built"
    assert (info.document_count, info.chunk_count, info.embedder) == (4, 10, embedder.name)
    second, info = ensure_index(folder, docs, embedder)
    assert info.status == "loaded"
    assert second.version == first.version


def test_ensure_index_rebuilds_a_stale_index_and_says_why(saved: Path, tiny_knowledge: Path, embedder) -> None:
    fever = tiny_knowledge / "en" / "fever.md"
    fever.write_text(fever.read_text(encoding="utf-8").replace("38C", "39C"), encoding="utf-8")
    docs = load_knowledge(tiny_knowledge).documents
    index, info = ensure_index(saved, docs, embedder)
    assert info.status.startswith("rebuilt: ")
    assert "stale" in info.status and "en/fever" in info.status
    assert any("39C" in c.text for c in index.languages["en"].chunks)
    assert ensure_index(saved, docs, embedder)[1].status == "loaded"  # the rebuilt one was saved


def test_ensure_index_rebuilds_a_corrupt_index_and_says_why(saved: Path, docs, embedder) -> None:
    truncate(saved / "en.faiss")
    index, info = ensure_index(saved, docs, embedder)
    assert info.status.startswith("rebuilt: ") and "corrupt" in info.status
    assert index.chunk_count() == 10
    assert ensure_index(saved, docs, embedder)[1].status == "loaded"


def test_ensure_index_rebuilds_for_a_new_embedder(saved: Path, docs, hash_embedder_class) -> None:
    other = hash_embedder_class(name="another-model")
    index, info = ensure_index(saved, docs, other)
    assert "stale" in info.status
    assert index.manifest["embedder"] == "another-model"
