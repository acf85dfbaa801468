"""The store snapshot (rag/index/snapshot.py): what a process that starts no model reads instead
of Chroma. It holds the store's rows exactly, any write to the store makes it stale (reads do
not), a stale or unreadable one is never used, and a `rag ask --no-llm` / `rag search` process
on a fresh one imports neither chromadb nor LlamaIndex and answers as the Chroma path does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.index.snapshot import fingerprint, read_snapshot, snapshot_path, write_snapshot
from rag.settings import ChromaSettings, Settings
from rag.wiring import embedder_for, open_store, run_ingest, run_remove
from tests.conftest import cli_modules

pytestmark = pytest.mark.slow


def paper(path: Path, title: str, body: str) -> Path:
    path.write_text(f"{title}\n\n{body * 3}\n")  # an abstract of 100 characters or more
    return path


@pytest.fixture()
def small(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    files = [
        paper(
            tmp_path / "a.txt",
            "Routing Experts",
            "Sparse experts route each token to two of sixty-four blocks. ",
        ),
        paper(
            tmp_path / "b.txt",
            "Quantised Adapters",
            "Four-bit adapters cut the memory of finetuning by a factor of three. ",
        ),
    ]
    run_ingest(settings, files, progress=False)
    return settings


def rows(settings: Settings) -> dict[str, tuple]:
    store = open_store(settings, embedder_for(settings))
    ids, metas, docs, vectors = store.export()
    return {
        i: (m, d, [round(float(x), 6) for x in v])
        for i, m, d, v in zip(ids, metas, docs, vectors, strict=True)
    }


def test_an_ingest_leaves_a_snapshot_of_exactly_the_stored_rows(small: Settings) -> None:
    snap = read_snapshot(small, embedder_for(small).name)
    assert snap is not None
    got = {
        i: (m, d, [round(float(x), 6) for x in v])
        for i, m, d, v in zip(snap.ids, snap.metadatas, snap.documents, snap.vectors, strict=True)
    }
    assert got == rows(small) and len(got) >= 2


def test_every_kind_of_write_makes_it_stale_and_reads_do_not(small: Settings, tmp_path) -> None:
    name = embedder_for(small).name
    before = fingerprint(small)
    store = open_store(small, embedder_for(small))
    probe = store.collection.get(limit=1, include=["embeddings", "metadatas"])
    store.collection.query(query_embeddings=[list(probe["embeddings"][0])], n_results=2)
    store.all_chunks()
    assert fingerprint(small) == before  # opening and reading the store changes nothing
    assert read_snapshot(small, name) is not None

    cid, meta = probe["ids"][0], dict(probe["metadatas"][0])
    writes = {
        "metadata update": lambda: store.set_metadata({cid: {**meta, "title": "Renamed"}}),
        "upsert": lambda: store.collection.upsert(
            ids=["new-chunk"],
            embeddings=[list(probe["embeddings"][0])],
            metadatas=[meta],
            documents=["Renamed\nnew text"],
        ),
        "delete": lambda: store.delete(["new-chunk"]),
    }
    for what, write in writes.items():
        taken = fingerprint(small)
        write()
        assert fingerprint(small) != taken, what
        assert read_snapshot(small, name) is None, what  # written behind the snapshot's back
    assert write_snapshot(small, store, name)  # what the next process without a model does
    assert read_snapshot(small, name) is not None
    assert read_snapshot(small, "another-embedder") is None


def test_ingest_and_remove_rewrite_it(small: Settings, tmp_path: Path) -> None:
    name = embedder_for(small).name
    run_ingest(
        small,
        [
            paper(
                tmp_path / "c.txt",
                "Speech Crawl",
                "Forty thousand hours of transcribed audio from public broadcasts. ",
            )
        ],
        False,
    )
    snap = read_snapshot(small, name)
    assert snap is not None and any(d.startswith("Speech Crawl") for d in snap.documents)
    summary, missing = run_remove(small, sources=[str(tmp_path / "c.txt")])
    snap = read_snapshot(small, name)
    assert not missing and snap is not None
    assert not any(d.startswith("Speech Crawl") for d in snap.documents)


def test_an_unreadable_snapshot_is_ignored_with_a_warning(small: Settings, caplog) -> None:
    snapshot_path(small).write_bytes(b"not a zip file")
    assert read_snapshot(small, embedder_for(small).name) is None
    assert "ignoring unreadable store snapshot" in caplog.text


def test_a_remote_store_has_no_fingerprint(small: Settings) -> None:
    remote = Settings(data_dir=small.data_dir, chroma=ChromaSettings(url="http://127.0.0.1:9"))
    assert fingerprint(remote) is None and read_snapshot(remote, "x") is None


def without_timings(record: dict) -> dict:
    """The record with its timings dropped (the only fields two runs may differ in)."""
    return {
        k: without_timings(v) if isinstance(v, dict) else v
        for k, v in record.items()
        if not k.endswith("_ms")
    }


@pytest.mark.parametrize("argv", [["ask", "--no-llm", "--json"], ["search", "--json"]])
def test_a_process_on_a_fresh_snapshot_answers_as_chroma_does_without_importing_it(
    small: Settings, argv: list[str]
) -> None:
    q = "Which method cuts memory with four-bit adapters?"
    fresh, loaded = cli_modules(small, *argv, q)
    assert loaded == []
    snapshot_path(small).unlink()
    through_chroma, loaded = cli_modules(small, *argv, q)  # and it writes the snapshot again
    assert loaded == ["chromadb"]
    assert without_timings(fresh) == without_timings(through_chroma)
    assert read_snapshot(small, embedder_for(small).name) is not None


def test_a_process_reads_chroma_when_the_store_changed_behind_the_snapshot(
    small: Settings,
) -> None:
    store = open_store(small, embedder_for(small))
    vector = embedder_for(small).embed(["Hedgehog attention mimics softmax"])[0]
    meta = dict(store.collection.get(limit=1, include=["metadatas"])["metadatas"][0])
    meta.update(paper_id="p-hedgehog", title="Hedgehog Attention")
    store.collection.upsert(
        ids=["c-hedgehog"],
        embeddings=[vector],
        metadatas=[meta],
        documents=["Hedgehog Attention\nHedgehog attention mimics softmax."],
    )
    found, loaded = cli_modules(small, "search", "--json", "Hedgehog attention")
    assert loaded == ["chromadb"]
    assert found["results"][0]["paper_id"] == "p-hedgehog"
