"""Ingestion into a real persistent Chroma with the real packaged embedder."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import ConfigError, StoreError
from rag.index.store import Store, writer_lock
from rag.settings import Settings
from rag.wiring import open_retriever, open_store, run_ingest

pytestmark = pytest.mark.slow

ABSTRACT = "Sparse experts route each token to a few specialised feed-forward blocks. " * 3


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_ingesting_the_seed_corpus_twice_changes_nothing(
    corpus_settings: Settings, embedder
) -> None:
    store = open_store(corpus_settings, embedder)
    before = store.chunk_index()
    parsed, summary = run_ingest(corpus_settings, progress=False)
    assert len(parsed.papers) == 519
    assert (summary.added, summary.removed, summary.updated) == (0, 0, 0)
    assert store.chunk_index() == before
    assert len({k.paper_id for k in before.values()}) == 519


def test_changed_abstract_replaces_its_chunks(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    corpus = write_jsonl(tmp_path / "a.jsonl", [{"title": "Routing Experts", "abstract": ABSTRACT}])
    _, first = run_ingest(settings, [corpus], progress=False)
    write_jsonl(corpus, [{"title": "Routing Experts", "abstract": ABSTRACT.replace("few", "two")}])
    _, second = run_ingest(settings, [corpus], progress=False)
    assert second.added == first.chunks and second.removed == first.chunks
    retriever = open_retriever(settings)
    assert retriever.chunk_count == second.chunks
    assert all("two specialised" in c.text for c in retriever.store.all_chunks())


def test_a_paper_seen_in_a_new_file_gains_the_source(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    row = {"title": "Routing Experts", "abstract": ABSTRACT}
    a = write_jsonl(tmp_path / "a.jsonl", [row])
    run_ingest(settings, [a], progress=False)
    _, summary = run_ingest(settings, [a, write_jsonl(tmp_path / "b.jsonl", [row])], progress=False)
    assert summary.added == 0 and summary.updated == summary.chunks
    chunks = open_retriever(settings).store.all_chunks()
    assert {c.sources for c in chunks} == {("a.jsonl", "b.jsonl")}


def test_another_writer_holding_the_store_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with writer_lock(settings), pytest.raises(StoreError, match="another writer"):
        run_ingest(settings, progress=False)


def test_missing_store_says_to_ingest(tmp_path: Path, embedder) -> None:
    with pytest.raises(StoreError, match="rag ingest"):
        open_retriever(Settings(data_dir=tmp_path / "nothing"), embedder)


def test_mixing_embedders_in_one_collection_is_refused(corpus_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="mixing embedders"):
        Store.open(corpus_settings, "openai:some-other-model")


def test_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="RAG_DATA_DIR"):
        run_ingest(Settings(data_dir=blocker / "data"), progress=False)


INNOCENT = {
    "title": "Innocent",
    "abstract": "This innocent paper sits in the same file as the repeated one and should be "
    "ingested whatever happens to its neighbour.",
}
REPEATED = {"title": "Rep", "abstract": "We study foo with bar and baz on many datasets. " * 60}


def test_a_repeated_abstract_is_stored_once_and_costs_no_neighbour(tmp_path: Path) -> None:
    """Issue #10.1: two identical chunks of one paper had one id and failed the whole batch."""
    settings = Settings(data_dir=tmp_path / "data")
    corpus = write_jsonl(tmp_path / "r.jsonl", [INNOCENT, REPEATED])
    parsed, summary = run_ingest(settings, [corpus], progress=False)
    assert summary.failed == ()
    chunks = open_retriever(settings).store.all_chunks()
    assert {c.title for c in chunks} == {"Innocent", "Rep"}
    rep = sorted((c for c in chunks if c.title == "Rep"), key=lambda c: c.position)
    assert len({c.passage for c in rep}) == len(rep)  # each passage once
    assert [c.position for c in rep] == list(range(len(rep)))


class FakePoisonEmbedder:
    """The real embedder, except that texts with POISON get a vector of the wrong size: a real
    Chroma then refuses the batch holding them (pure plumbing for the per-paper fallback)."""

    def __init__(self, real) -> None:
        self.real, self.name = real, real.name

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [
            [0.1, 0.2, 0.3] if "POISON" in t else v
            for t, v in zip(texts, self.real.embed(texts), strict=True)
        ]


def test_a_paper_the_store_refuses_costs_only_itself(tmp_path: Path, embedder) -> None:
    from rag.index.embed import TokenCounter, packaged_model_dir
    from rag.index.ingest import ingest
    from rag.sources.loader import load_corpus

    rows = [
        {"title": f"Paper {k}", "abstract": f"Paper {k} studies routing. " + ABSTRACT}
        for k in range(3)
    ]
    rows[1]["title"] = "POISON paper"
    parsed = load_corpus([write_jsonl(tmp_path / "p.jsonl", rows)])
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings, embedder, create=True)
    summary = ingest(
        parsed.papers, store, FakePoisonEmbedder(embedder), TokenCounter(packaged_model_dir()),
        settings.chunk, batch_size=64, progress=False,
    )  # fmt: skip
    assert {c.title for c in store.all_chunks()} == {"Paper 0", "Paper 2"}
    assert len(summary.failed) == 1 and "'POISON paper' was not stored" in str(summary.failed[0])
    assert summary.added == store.count()


def rag_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rag.cli", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_binary_files_are_refused_and_the_text_files_beside_them_ingested(tmp_path: Path) -> None:
    """Issue #10.2: `rag ingest some.pdf` or random bytes stored hundreds of junk papers (#13:
    a PDF goes to the PDF reader, which names what is wrong with this one)."""
    noise = tmp_path / "g.txt"
    noise.write_bytes(random.Random(1).randbytes(100_000))
    pdf = tmp_path / "some.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + random.Random(2).randbytes(5000))
    only = rag_cli(tmp_path / "d1", "ingest", "-q", str(noise))
    assert only.returncode == 2, only.stderr
    assert only.stderr.splitlines()[0] == (
        "g.txt: error: binary file (NUL bytes); not a text listing — skipped"
    )
    assert "0 unique papers" in only.stdout
    good = write_jsonl(
        tmp_path / "good.jsonl", [{"title": "Routing Experts", "abstract": ABSTRACT}]
    )
    mixed = rag_cli(tmp_path / "d2", "ingest", "-q", str(pdf), str(noise), str(good))
    assert mixed.returncode == 0, mixed.stderr
    assert "some.pdf: error: truncated PDF (no %%EOF end marker" in mixed.stderr
    titles = {
        c.title for c in open_store(Settings(data_dir=tmp_path / "d2"), _Named()).all_chunks()
    }
    assert titles == {"Routing Experts"}


class _Named:
    name = "local:all-MiniLM-L6-v2"


def test_sources_add_up_across_runs(tmp_path: Path) -> None:
    """Issue #10.3: a second run with another file replaced the paper's sources instead."""
    settings = Settings(data_dir=tmp_path / "data")
    good = write_jsonl(
        tmp_path / "good.jsonl", [{"title": "Routing Experts", "abstract": ABSTRACT}]
    )
    dump = tmp_path / "dump.txt"
    dump.write_text(f"Routing Experts\n\n{ABSTRACT}\n")
    run_ingest(settings, [good], progress=False)
    _, summary = run_ingest(settings, [dump], progress=False)
    assert summary.added == 0 and summary.updated == summary.chunks
    hits = open_retriever(settings).search("sparse experts routing").hits
    assert hits[0].sources == ("good.jsonl", "dump.txt")
    _, again = run_ingest(settings, [good], progress=False)  # nothing to change, nothing lost
    assert again.updated == 0
    assert {c.sources for c in open_retriever(settings).store.all_chunks()} == {
        ("good.jsonl", "dump.txt")
    }


def test_one_paper_by_title_and_by_id_across_runs_and_store_formats(tmp_path: Path, embedder):
    """Issue #10.6: a JSONL record with an `id` duplicated the paper ingested by title, and
    titles differing by a zero-width space or soft hyphen filled the top 5 with one paper."""
    from rag.index.embed import TokenCounter, packaged_model_dir
    from rag.index.ingest import ingest
    from rag.sources.records import Paper

    settings = Settings(data_dir=tmp_path / "data")
    # A store written under the old rule, where an `id` was the paper id.
    old = Paper("42", "Routing Experts", ABSTRACT, ("old.jsonl",))
    store = open_store(settings, embedder, create=True)
    ingest(
        [old], store, embedder, TokenCounter(packaged_model_dir()), settings.chunk, progress=False
    )
    dump = tmp_path / "dump.txt"
    dump.write_text(
        f"Routing\u00a0Experts\n\n{ABSTRACT}\n\nRout\u00ading Ex\u200bperts\n\n{ABSTRACT}\n"
    )
    run_ingest(settings, [dump], progress=False)
    mine = write_jsonl(
        tmp_path / "mine.jsonl", [{"id": "x-9", "title": "Routing Experts", "abstract": ABSTRACT}]
    )
    _, summary = run_ingest(settings, [mine], progress=False)
    assert summary.added == 0
    hits = open_retriever(settings).search("sparse experts routing tokens", top_k=5).hits
    assert len(hits) == 1 and hits[0].title == "Routing Experts"
    assert hits[0].sources == ("old.jsonl", "dump.txt", "mine.jsonl")
    metas = store.collection.get(include=["metadatas"])["metadatas"]
    assert {m.get("external_id") for m in metas} == {"x-9"}
