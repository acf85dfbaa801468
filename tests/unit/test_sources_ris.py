"""RIS exports: fields, one Issue per broken record with the rest parsed, and attachments
(relative, file:// and hostile) read or refused in a Zotero-style folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import SourceSettings
from rag.sources.library import read_export
from rag.sources.ris import parse_ris
from tests.fixtures import pdfs as fx
from tests.fixtures.exports import RIS, make_library

ABSTRACT = (
    "Mixture-of-experts routing decides which expert reads each token; we measure how stable it is. "
    * 2
)


def parsed() -> tuple[dict, list[str]]:
    entries, issues = parse_ris(RIS.read_text(encoding="utf-8"), RIS.name)
    return {e.title: e for e in entries}, [str(i) for i in issues]


def test_full_record_fields() -> None:
    entries, _ = parsed()
    e = entries["Calibrated Retrieval for Long-Document Question Answering"]
    assert e.authors == ("Mara Lindqvist", "Tomasz Okafor", "Priya Raman")
    assert (e.year, e.doi, e.venue) == (2024, "10.5555/jir.2024.017", "Journal of Invented Results")
    assert e.url == "https://example.org/papers/calibrated-retrieval"
    assert e.keywords == ("retrieval", "calibration")
    assert e.attachments == ("files/12/one-column.pdf", "files/12/snapshot.html")
    assert entries["Sparse Mixture Routing for Efficient On-Device Speech Recognition"].year == 2023


def test_broken_records_give_one_issue_each_and_the_rest_parse() -> None:
    entries, issues = parsed()
    assert "Entries After a Broken One Still Count" in entries
    assert len(entries) == 4
    assert issues == [
        "zotero.ris:26: error: entry ('A Title Alone Gives Retrieval Nothing to Find') has no "
        "abstract and no attachment; skipped",
        "zotero.ris:31: error: lines outside any record (no 'TY  - ' line starts them); skipped",
    ]


def test_record_without_end_line_is_read_with_a_warning() -> None:
    text = f"TY  - JOUR\nTI  - First\nAB  - {ABSTRACT}\nTY  - JOUR\nTI  - Second\nAB  - {ABSTRACT}\nER  - \n"
    entries, issues = parse_ris(text, "x.ris")
    assert [e.title for e in entries] == ["First", "Second"]
    assert [str(i) for i in issues] == [
        "x.ris:1: warning: record has no 'ER  - ' end line; read up to the next record or the end of the file"
    ]


def test_stray_continuation_line_that_crashes_rispy_costs_nothing() -> None:
    # rispy.loads on this whole text raises KeyError('file_attachments1'): it carries the last
    # tag of one record into the next. Parsed record by record, both records are read.
    text = (
        f"TY  - JOUR\nTI  - First\nAB  - {ABSTRACT}\nL1  - a.pdf\nER  - \n\n"
        f"TY  - JOUR\ngarbage line here\nTI  - Second\nAB  - {ABSTRACT}\nER  - \n"
    )
    entries, issues = parse_ris(text, "y.ris")
    assert [e.title for e in entries] == ["First", "Second"]
    assert entries[0].attachments == ("a.pdf",)
    assert issues == []


@pytest.mark.slow
def test_ris_attachments_relative_file_uri_and_hostile(
    tmp_path: Path, pdf_fixtures: fx.FixturePdfs
) -> None:
    root = make_library(tmp_path, pdf_fixtures).resolve()
    entries, issues = read_export(tmp_path / "zotero.ris", SourceSettings())
    by_title = {e.title: e for e in entries}
    sparse = by_title["Sparse Mixture Routing for Efficient On-Device Speech Recognition"]
    assert sparse.abstract.startswith(fx.TWO_ABSTRACT_START)  # via L1 file:///…/two-column.pdf
    assert len(by_title["Calibrated Retrieval for Long-Document Question Answering"].pages) == 4
    assert "Attachments That Try to Leave the Library" not in by_title
    assert [str(i) for i in issues if i.line == 35] == [
        f"zotero.ris:35: error: attachment path ../../etc/passwd is outside the library folder {root}; skipped",
        f"zotero.ris:35: error: attachment path file:///etc/passwd is outside the library folder {root}; skipped",
        f"zotero.ris:35: error: attachment path files/evil-link.pdf is outside the library folder {root}; skipped",
        "zotero.ris:35: error: 'Attachments That Try to Leave the Library' has no abstract and no readable attachment; skipped",
    ]
