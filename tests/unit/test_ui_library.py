"""The library panel's pure parts: upload names cannot reach outside the library folder, what
is refused before reading, each file's result from its ingest, and HTML that shows file text
as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag.ui import library as lib
from rag.ui.library_html import file_result_html, library_html, upload_html

from rag.index.catalog import PaperRecord
from rag.index.ingest import IngestSummary, PaperChange
from rag.sources.records import Issue, Paper, ParseResult
from tests.unit.test_ui_render import Tags, assert_inert

EVIL = '<img src=x onerror="window.__pwned=1">'


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.bib", "passwd.bib"),
        ("/abs/path/refs.RIS", "refs.ris"),
        ("C:\\Users\\me\\paper.PDF", "paper.pdf"),
        ("..", "upload"),
        (".hidden.jsonl", "hidden.jsonl"),
        ("a;rm -rf ~.pdf", "a_rm -rf _.pdf"),
        ("", "upload"),
    ],
)
def test_upload_names_lose_folders_and_tricks(name: str, safe: str) -> None:
    assert lib.safe_name(name) == safe
    assert "/" not in lib.safe_name(name) and not lib.safe_name(name).startswith(".")


def test_wrong_types_empty_and_oversized_files_are_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "x.pdf"
    f.write_bytes(b"%PDF-1.4" + b"0" * 2048)
    assert lib.check_upload(f, "x.pdf", 1.0) is None
    assert "file type" in (lib.check_upload(f, "x.exe", 1.0) or "")
    assert "RAG_UI_MAX_UPLOAD_MB" in (lib.check_upload(f, "x.pdf", 0.001) or "")
    (tmp_path / "e.bib").write_bytes(b"")
    assert lib.check_upload(tmp_path / "e.bib", "e.bib", 1.0) == "the file is empty"
    assert "could not be read" in (lib.check_upload(tmp_path / "gone.ris", "gone.ris", 1.0) or "")


def _paper(pid: str, title: str) -> Paper:
    return Paper(pid, title, "abstract", ("f.bib",))


def _summary(new=(), changed=(), failed=()) -> IngestSummary:
    def ch(pid: str) -> PaperChange:
        return PaperChange(pid, pid, ("f.bib",))

    return IngestSummary(
        0, 0, 0, 0, 0, 0, tuple(failed), tuple(map(ch, new)), tuple(map(ch, changed))
    )


def test_each_file_says_added_merged_rejected_or_failed() -> None:
    papers = [_paper("a", "A"), _paper("b", "B"), _paper("c", "C")]
    bad = Issue("f.bib", 7, "entry has no title")
    r = lib.file_result("f.bib", ParseResult(papers, [bad]), _summary(new=["a"], changed=["b"]))
    assert (r.status, r.added, r.changed, r.merged) == ("added", ("A",), ("B",), ("C",))
    assert r.problems == ("entry has no title",)
    merged = lib.file_result("f.bib", ParseResult(papers[:1]), _summary())
    assert merged.status == "merged" and merged.merged == ("A",)
    none = lib.file_result(
        "f.pdf", ParseResult([], [Issue("f.pdf", 0, "encrypted PDF")]), _summary()
    )
    assert (none.status, none.problems) == ("rejected", ("encrypted PDF",))
    refused = lib.file_result("f.bib", ParseResult(papers[:1]), _summary(failed=[bad]))
    assert refused.status == "failed" and not refused.ok


def test_file_names_titles_and_messages_show_as_text() -> None:
    r = lib.FileResult(EVIL, "added", added=(EVIL,), problems=(EVIL,))
    run = lib.UploadRun(2, [r], current=EVIL)
    html = upload_html(run)
    assert_inert(html)
    assert EVIL in Tags(html).text() and "Reading 2 of 2" in Tags(html).text()
    assert "up-added" in file_result_html(r)
    record = PaperRecord("p1", EVIL, (EVIL,), 2024, None, None, None, (EVIL,), (), 3, 2)
    table = library_html([record])
    assert_inert(table)
    assert EVIL in Tags(table).text() and "1 paper" in Tags(table).text()
    assert "empty" in library_html([])


def test_source_labels_count_papers_per_file() -> None:
    def rec(pid: str, *sources: str) -> PaperRecord:
        return PaperRecord(pid, pid, (), None, None, None, None, sources, (), 1, 0)

    records = [rec("a", "x.bib", "p.pdf"), rec("b", "x.bib"), rec("c", "y.ris")]
    assert lib.source_labels(records) == ["x.bib", "p.pdf", "y.ris"]
