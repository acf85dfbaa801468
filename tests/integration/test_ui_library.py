"""The chat page's library (ui/library.py) on a real persistent Chroma, the real embedder and
real PDFs printed by Chromium: uploads kept in the data dir and ingested through `rag ingest`'s
path (a result per file: added, merged, rejected and why), removal, the engine swapped in after
each change, and a question being answered meanwhile completing on the engine it started with.
No model: the engine answers extractively (the evidence sentences), which is what is tested
here, not generation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rag.ui import library as lib
from rag.ui.runtime import Deps, LLMLink

from rag.answer.events import Done, Retrieved
from rag.llm.session import LLMSession
from rag.settings import AnswerSettings, Settings, UISettings
from rag.wiring import build_engine, list_papers, open_retriever, run_ingest, run_remove
from tests.fixtures import pdfs as fx

pytestmark = pytest.mark.slow
SEED = [
    {
        "title": "Routing Tokens to Sparse Experts",
        "abstract": "Sparse experts route each token to a few specialised feed-forward blocks, "
        "which keeps the compute per token constant while the parameter count grows.",
        "year": 2022,
    },
    {
        "title": "Quantising Attention Without Outliers",
        "abstract": "Clipped softmax and gated attention remove the activation outliers that "
        "make transformers hard to quantise to eight bits.",
        "year": 2023,
    },
]
PDF_QUESTION = "How can a retriever's scores be turned into probabilities of containing the answer?"


def _settings(root: Path, **ui: object) -> Settings:
    answer = AnswerSettings(mode="extractive")  # no model: see the module docstring
    return Settings(data_dir=root / "data", answer=answer, ui=UISettings(**ui))


def _deps(settings: Settings) -> Deps:
    retriever = open_retriever(settings)
    link = LLMLink(LLMSession(settings), every_s=60.0)  # never started: no model is asked
    return Deps(settings, build_engine(settings, None, retriever), retriever, None, link)


def _ingest(settings: Settings):
    return lambda paths: run_ingest(settings, paths, progress=False)


@pytest.fixture
def library(tmp_path: Path) -> Deps:
    settings = _settings(tmp_path)
    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join(json.dumps(r) + "\n" for r in SEED))
    run_ingest(settings, [seed], progress=False)
    return _deps(settings)


def _upload(deps: Deps, files: list[tuple[Path, str]]) -> list[lib.FileResult]:
    runs = list(lib.upload(deps, files, _ingest(deps.settings)))
    return runs[-1].done


def test_uploads_report_each_file_and_the_pdf_is_found_with_its_page(
    library: Deps, pdf_fixtures: fx.FixturePdfs, tmp_path: Path
) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@article{ok, title={Quantising Attention Without Outliers}, year={2023},\n"
        "  author={Bondarenko, Yelysei}, abstract={Clipped softmax and gated attention remove "
        "the activation outliers that make transformers hard to quantise to eight bits.}}\n"
        "@article{broken, title={No closing brace\n"
    )
    odd = tmp_path / "notes.docx"
    odd.write_bytes(b"PK\x03\x04 not ours")
    old_engine = library.engine
    results = _upload(
        library,
        [
            (pdf_fixtures.one_column, "../../etc/calibrated.pdf"),  # a path trick in the name
            (pdf_fixtures.encrypted, "locked.pdf"),
            (pdf_fixtures.corrupt, "corrupt.pdf"),
            (bib, "refs.bib"),
            (odd, "notes.docx"),
        ],
    )
    by_name = {r.name: r for r in results}
    assert list(by_name) == [
        "calibrated.pdf",
        "locked.pdf",
        "corrupt.pdf",
        "refs.bib",
        "notes.docx",
    ]
    assert by_name["calibrated.pdf"].status == "added"
    assert by_name["calibrated.pdf"].added == (fx.ONE_TITLE,)
    assert (
        by_name["locked.pdf"].status == "rejected"
        and "encrypt" in by_name["locked.pdf"].problems[0].lower()
    )
    assert by_name["corrupt.pdf"].status == "rejected" and by_name["corrupt.pdf"].problems
    assert by_name["refs.bib"].status == "merged"  # the paper was already there
    assert by_name["refs.bib"].merged == ("Quantising Attention Without Outliers",)
    assert (
        by_name["notes.docx"].status == "rejected"
        and "file type" in by_name["notes.docx"].problems[0]
    )
    kept = sorted(p.name for p in lib.upload_dir(library).iterdir())
    assert kept == ["calibrated.pdf", "corrupt.pdf", "locked.pdf", "refs.bib"]  # all inside
    assert not (library.settings.data_dir.parent / "etc").exists()

    assert library.engine is not old_engine  # swapped in: the next question sees the PDF
    answer = library.engine.ask(PDF_QUESTION)
    top = answer.retrieval.hits[0]
    assert top.title == fx.ONE_TITLE and top.page is not None
    titles = {r.title for r in list_papers(library.settings)}
    assert titles == {fx.ONE_TITLE, *(r["title"] for r in SEED)}


def test_the_same_upload_twice_adds_nothing_and_an_oversized_one_is_refused(
    library: Deps, pdf_fixtures: fx.FixturePdfs, tmp_path: Path
) -> None:
    (first,) = _upload(library, [(pdf_fixtures.one_column, "paper.pdf")])
    chunks = library.retriever.chunk_count
    (again,) = _upload(library, [(pdf_fixtures.one_column, "paper.pdf")])
    assert (first.status, again.status) == ("added", "merged")
    assert library.retriever.chunk_count == chunks
    small = Deps(
        _settings(tmp_path / "small", max_upload_mb=0.001),
        library.engine,
        library.retriever,
        None,
        library.llm,
    )
    (big,) = _upload(small, [(pdf_fixtures.one_column, "big.pdf")])
    assert big.status == "rejected" and "RAG_UI_MAX_UPLOAD_MB" in big.problems[0]


def test_removing_a_file_removes_its_papers_from_search(
    library: Deps, pdf_fixtures: fx.FixturePdfs
) -> None:
    _upload(library, [(pdf_fixtures.one_column, "paper.pdf")])
    assert library.engine.ask(PDF_QUESTION).retrieval.hits[0].title == fx.ONE_TITLE
    text = lib.remove(library, [], ["paper.pdf"], run_remove)
    assert text.startswith("Removed 1 paper")
    hits = library.engine.ask(PDF_QUESTION).retrieval.hits
    assert fx.ONE_TITLE not in [h.title for h in hits]
    assert lib.remove(library, [], [], run_remove).startswith("Choose")


def test_a_question_answered_during_an_upload_completes(
    library: Deps, pdf_fixtures: fx.FixturePdfs
) -> None:
    events = library.engine.stream("Which attention change removes activation outliers?")
    first = next(events)
    assert isinstance(first, Retrieved)
    results = _upload(library, [(pdf_fixtures.one_column, "paper.pdf")])  # meanwhile
    assert results[0].status == "added"
    done = [e for e in events if isinstance(e, Done)]
    assert len(done) == 1 and not done[0].answer.abstained
    assert done[0].answer.sources[0].hit.title == "Quantising Attention Without Outliers"


def test_an_upload_that_cannot_be_copied_fails_alone(library: Deps, tmp_path: Path) -> None:
    gone = tmp_path / "vanished.jsonl"  # the temporary upload disappeared
    seed = tmp_path / "more.jsonl"
    seed.write_text(
        json.dumps(
            {
                "title": "Another Paper On Experts",
                "abstract": SEED[0]["abstract"] + " Also routing.",
            }
        )
        + "\n"
    )
    results = _upload(library, [(gone, "vanished.jsonl"), (seed, "more.jsonl")])
    assert [r.status for r in results] == ["rejected", "added"]
    shutil.rmtree(lib.upload_dir(library))
