"""A researcher's own library end to end (issue #13), with a real Chroma, the real embedder,
PDFs printed by Chromium and the Zotero-style exports of tests/fixtures/library/: ingest →
list → search with pages and filters → ask cites the page → remove → re-ingest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.index.filters import Filters, make_filters, matches, where
from rag.settings import Settings
from rag.wiring import open_retriever, open_store, run_ingest, run_remove
from tests.fixtures import pdfs as fx
from tests.fixtures.exports import make_library

pytestmark = pytest.mark.slow
CALIBRATED = "Calibrated Retrieval for Long-Document Question Answering: When to Say No"
SPARSE = "Sparse Mixture Routing for Efficient On-Device Speech Recognition"


def rag(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "RAG_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", **env}
    cmd = [sys.executable, "-m", "rag.cli", *args]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=900)


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, pdf_fixtures: fx.FixturePdfs) -> Path:
    """paper.pdf (the one-column paper) beside a Zotero export folder with refs.bib/refs.ris."""
    root = tmp_path_factory.mktemp("library")
    (root / "zotero").mkdir()
    make_library(root / "zotero", pdf_fixtures)
    for name in ("zotero.bib", "zotero.ris"):
        (root / "zotero" / name).rename(root / "zotero" / name.replace("zotero", "refs"))
    shutil.copyfile(pdf_fixtures.one_column, root / "paper.pdf")
    return root


def test_round_trip_ingest_search_ask_cites_the_page_remove_reingest(
    library: Path, tmp_path: Path, llm_server
) -> None:
    data = tmp_path / "data"
    files = [
        str(library / "paper.pdf"),
        *(str(library / "zotero" / n) for n in ("refs.bib", "refs.ris")),
    ]
    out = ok(rag(data, "ingest", "-q", *files))
    assert "added: 4 papers" in out and CALIBRATED in out

    listed = {p["title"]: p for p in jsonl(ok(rag(data, "list", "--json")))}
    paper = listed[CALIBRATED]
    assert paper["authors"] == ["Mara Lindqvist", "Tomasz Okafor", "Priya Raman"]
    assert paper["year"] == 2024 and paper["pages"] >= 3
    assert paper["sources"] == ["paper.pdf", "refs.bib", "refs.ris"]  # one paper, three files
    assert listed[SPARSE]["year"] == 2023 and listed[SPARSE]["pages"] >= 2  # the .bib's PDF

    question = "How far did temperature scaling reduce the expected calibration error?"
    found = json.loads(ok(rag(data, "search", "--json", question, "-k", "3")))
    top = found["results"][0]
    assert top["paper_id"] == paper["id"] and isinstance(top["page"], int)
    assert "0.21 to 0.09" in top["chunk"] and top["year"] == 2024 and top["doi"]

    env = {"RAG_LLM_BASE_URL": llm_server.base_url, "RAG_LLM_MAX_ANSWER_TOKENS": "64"}
    answer = json.loads(ok(rag(data, "ask", "--json", question, "-k", "1", **env)))
    cited = {c["paper_id"]: c for c in answer["citations"]}
    assert paper["id"] in cited, answer
    assert cited[paper["id"]]["page"] == top["page"] and cited[paper["id"]]["year"] == 2024

    removed = ok(rag(data, "remove", paper["id"]))
    assert "removed: 1 paper," in removed and paper["id"] in removed
    assert "removed: 0 papers, 0 chunks" in ok(rag(data, "remove", paper["id"]))  # idempotent
    after = json.loads(ok(rag(data, "search", "--json", question, "-k", "5")))
    assert paper["id"] not in {r["paper_id"] for r in after["results"]}

    ok(rag(data, "ingest", "-q", *files))
    again = {p["title"]: p for p in jsonl(ok(rag(data, "list", "--json")))}
    assert {t: p["id"] for t, p in again.items()} == {t: p["id"] for t, p in listed.items()}
    assert again[CALIBRATED]["chunks"] == paper["chunks"]


def test_hostile_and_broken_files_each_get_a_line_and_the_rest_is_ingested(
    library: Path, tmp_path: Path, pdf_fixtures: fx.FixturePdfs
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    for pdf in (
        pdf_fixtures.encrypted, pdf_fixtures.corrupt, pdf_fixtures.truncated,
        pdf_fixtures.image_only, pdf_fixtures.long, pdf_fixtures.two_column,
    ):  # fmt: skip
        shutil.copyfile(pdf, folder / pdf.name)
    (folder / "huge.pdf").write_bytes(b"%PDF-1.7\n" + bytes(3 * 2**20))
    shutil.copyfile(library / "zotero" / "refs.bib", folder / "refs.bib")  # attachments absent
    done = rag(
        tmp_path / "data", "ingest", "-q", str(folder),
        RAG_SOURCES_MAX_PDF_PAGES="40", RAG_SOURCES_MAX_FILE_MB="2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "encrypted.pdf: error: encrypted PDF (password protected)" in err
    assert "corrupt.pdf: error: not a PDF (no %PDF- header" in err
    assert "truncated.pdf: error: truncated PDF" in err
    assert "scan.pdf: error: no text layer (scanned?); run OCR first" in err
    assert "long.pdf: warning: PDF has 500 pages; read the first 40" in err
    assert "huge.pdf: error: file is 3.0 MB, over the 2 MB limit" in err
    assert "refs.bib:37: error: attachment path ../../etc/passwd is outside the library" in err
    assert "refs.bib:28: error: bad BibTeX syntax in entry 'broken2021'" in err
    assert "refs.bib:22: error: entry 'nobody2022noabstract'" in err  # no abstract, no file
    assert "Traceback" not in err
    titles = {p["title"] for p in jsonl(ok(rag(tmp_path / "data", "list", "--json")))}
    assert {"A Long Report", fx.TWO_TITLE, "Entries After a Broken One Still Count"} <= titles
    assert CALIBRATED in titles  # its .bib abstract, though its PDF is not in this folder


def test_a_changed_file_replaces_only_its_chunks_and_a_paper_it_lost_goes(
    library: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    bib = tmp_path / "refs.bib"
    shutil.copyfile(library / "zotero" / "refs.bib", bib)
    for name in ("files",):
        shutil.copytree(library / "zotero" / name, tmp_path / name, symlinks=True)
    pdf = tmp_path / "paper.pdf"
    shutil.copyfile(library / "paper.pdf", pdf)
    run_ingest(settings, [bib, pdf], progress=False)
    before = open_store(settings, _Named()).chunk_index()
    text = bib.read_text()
    start = text.index("@article{okafor2017after")
    bib.write_text(text[:start].replace("one point of accuracy", "two points of accuracy"))
    _, summary = run_ingest(settings, [bib], progress=False)
    after = open_store(settings, _Named()).chunk_index()
    assert [c.title for c in summary.removed_papers] == ["Entries After a Broken One Still Count"]
    changed = {k.paper_id for cid, k in before.items() if cid not in after}
    assert len(changed) == 2  # the edited abstract's paper and the removed one
    pages = {cid for cid, k in before.items() if "page" in k.meta}
    assert pages <= set(after)  # the PDF's page chunks were not touched
    assert summary.added == 1  # only the edited abstract was embedded again


class _Named:
    name = "local:all-MiniLM-L6-v2"


def test_filters_select_the_same_chunks_in_chroma_and_in_bm25(library: Path, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    rows = [
        {"title": f"Paper {k}", "abstract": f"Paper {k} studies sparse expert routing. " * 4,
         "authors": [["Ada Lovelace", "Inês Carvalho"], ["Alan Turing"]][k % 2], "year": 2020 + k}
        for k in range(6)
    ]  # fmt: skip
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_ingest(settings, [corpus, library / "zotero" / "refs.bib"], progress=False)
    retriever = open_retriever(settings)
    cases = [
        make_filters(year="2022-2024"),
        make_filters(author="ines carvalho"),
        make_filters(author="Turing", year="2023-"),
        make_filters(source="refs.bib"),
        make_filters(source=str(corpus), year="-2021"),
        make_filters(source="nothing.bib"),
    ]
    state = retriever._ensure_loaded()
    for f in cases:
        keys = retriever._source_keys(state, f)
        chroma = set(retriever.store.collection.get(where=where(f, keys), include=[])["ids"])
        python = {
            c.id
            for c in retriever.chunks()
            if matches(f, c.year, c.author_keys, c.source_keys, keys)
        }
        assert chroma == python, f
        for mode in ("dense", "bm25", "hybrid"):
            hits = retriever.search("sparse expert routing", 50, mode, f).hits
            assert {h.chunk_id for h in hits} <= python, (f, mode)
    assert len(chroma) == 0 and python == set()  # the last case: a file not in the store
    turing = retriever.search("sparse expert routing", 50, "hybrid", cases[2]).hits
    assert sorted(h.title for h in turing) == ["Paper 3", "Paper 5"]


def test_removed_chunks_are_not_served_after_reload_and_a_search_meanwhile_completes(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    rows = [{"title": f"Routing {k}", "abstract": f"Experts route tokens, variant {k}. " * 5}
            for k in range(40)]  # fmt: skip
    corpus = tmp_path / "a.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_ingest(settings, [corpus], progress=False)
    retriever = open_retriever(settings)
    gone = retriever.search("variant 7", 1, "bm25").hits[0]
    summary, missing = run_remove(settings, [gone.paper_id, "p-not-there"])
    assert len(summary.removed_papers) == 1 and missing == ["p-not-there"]
    errors: list[BaseException] = []

    def ask_many() -> None:
        try:
            for _ in range(20):
                retriever.search("experts route tokens", 10, "hybrid")
        except BaseException as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    worker = threading.Thread(target=ask_many)
    worker.start()
    retriever.reload()
    worker.join()
    assert errors == []
    ids = {h.paper_id for h in retriever.search("variant 7", 40, "hybrid").hits}
    assert gone.paper_id not in ids and retriever.paper_count == 39


def test_same_title_another_doi_in_a_later_run_is_another_paper(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    for name, doi in (("a.jsonl", "10.1234/a"), ("b.jsonl", "10.1234/b")):
        row = {"title": "Same Title", "abstract": f"Experts route tokens ({doi}). " * 5, "doi": doi}
        (tmp_path / name).write_text(json.dumps(row) + "\n")
        run_ingest(settings, [tmp_path / name], progress=False)
    metas = open_store(settings, _Named()).metadatas()
    assert sorted(m["doi"] for m in metas) == ["10.1234/a", "10.1234/b"]
    assert len({m["paper_id"] for m in metas}) == 2


def test_full_text_evidence_comes_from_the_right_page_within_the_budget(
    tmp_path: Path, embedder
) -> None:
    """A 20-page paper: only the retrieved chunk and its neighbours may be evidence (the long
    paper rule of rag/answer/sentences.py), the figure's page is cited, the budget holds."""
    from rag.answer.evidence import EvidenceConfig, EvidenceIndex, gather
    from rag.answer.sentences import candidate_indices
    from rag.answer.vectors import SentenceVectors
    from rag.index.embed import TokenCounter, packaged_model_dir

    settings = Settings(data_dir=tmp_path / "data")
    run_ingest(settings, [fx.facts_pdf(tmp_path)], progress=False)
    retriever = open_retriever(settings, embedder)
    question = "What value did the zirconium catalyst measurement reach in the spring trial?"
    hits = retriever.search(question, 4).hits
    assert hits[0].title == fx.FACTS_TITLE and hits[0].page == 12
    index = EvidenceIndex.build(retriever.chunks())
    paper = index.papers[hits[0].paper_id]
    cfg = EvidenceConfig(budget_tokens=160)
    near = candidate_indices(paper, {hits[0].chunk_id}, cfg.max_whole_chunks, cfg.neighbours)
    assert paper.n_chunks > 3 * cfg.max_whole_chunks and len(near) < len(paper.sentences) / 5
    count = TokenCounter(packaged_model_dir())
    evidence = gather(question, hits, index, SentenceVectors(embedder), count, cfg)
    picked = evidence.papers[0].sentences
    assert fx.facts_sentence(12) in [s.text for s in picked]
    assert {paper.page_of(s.index) for s in picked} <= {11, 12, 13}
    assert evidence.tokens <= cfg.budget_tokens
    assert Filters() == retriever.search(question, 1).filters  # nothing asked, nothing applied
