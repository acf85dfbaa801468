"""BibTeX exports: fields and LaTeX clean-up, one Issue per broken entry with the rest parsed,
and (with Chromium-printed PDFs) attachments read into the entries of a Zotero-style export."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import SourceSettings
from rag.sources.bibtex import authors, latex_to_text, parse_bibtex
from rag.sources.library import read_export
from tests.fixtures import pdfs as fx
from tests.fixtures.exports import BIB, make_library


def parsed() -> tuple[dict, list[str]]:
    entries, issues = parse_bibtex(BIB.read_text(encoding="utf-8"), BIB.name)
    return {e.title: e for e in entries}, [str(i) for i in issues]


def test_full_entry_fields_come_out_clean() -> None:
    entries, _ = parsed()
    e = entries["Calibrated Retrieval for Long-Document Question Answering: When to Say No"]
    assert e.authors == ("Mara Lindqvist", "Tomasz Okafor", "Priya Raman")
    assert (e.year, e.doi, e.venue) == (2024, "10.5555/jir.2024.017", "Journal of Invented Results")
    assert e.url == "https://example.org/papers/calibrated-retrieval"
    assert e.keywords == ("retrieval", "calibration", "question answering")
    assert "abstain on 31% of unanswerable questions – losing" in e.abstract
    assert "Müller's baseline" in e.abstract
    assert e.attachments == ("files/12/one-column.pdf", "files/12/snapshot.html")
    assert e.line == 2


def test_broken_entries_give_one_issue_each_and_the_rest_parse() -> None:
    entries, issues = parsed()
    assert sorted(entries) == sorted(
        [
            "Calibrated Retrieval for Long-Document Question Answering: When to Say No",
            "Sparse Mixture Routing for Efficient On-Device Speech Recognition",
            "Attachments That Try to Leave the Library",
            "An Abstract, and a Locked PDF",
            "Entries After a Broken One Still Count",
        ]
    )
    assert issues == [
        "zotero.bib:22: error: entry 'nobody2022noabstract' ('A Title Alone Gives Retrieval "
        "Nothing to Find') has no abstract and no attachment; skipped",
        "zotero.bib:28: error: bad BibTeX syntax in entry 'broken2021' (Unexpected block start: "
        "`@article`. Was still looking for field-value closing `}`); skipped, fix the entry",
        "zotero.bib:32: error: entry 'notitle2020' has no title; skipped",
    ]


def test_entry_without_abstract_but_with_a_file_is_kept_for_its_pdf() -> None:
    entries, _ = parsed()
    e = entries["Sparse Mixture Routing for Efficient On-Device Speech Recognition"]
    assert e.abstract == "" and e.attachments == ("files/13/two-column.pdf",)
    assert e.authors == ("Inês Carvalho", "Daniel Mwangi")  # "and others" dropped
    assert e.venue == "Proceedings of the Workshop on Frugal Machine Learning"


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"{BERT} for {\"o}ber-fast \emph{routing}", "BERT for öber-fast routing"),
        (r"pages 10--20 and 50% faster \& better", "pages 10–20 and 50% faster & better"),
        (r"$\alpha$-sparse \textbf{gates}", "α-sparse gates"),
        ("{" * 5000 + "deep", "deep"),
    ],
)
def test_latex_markup_becomes_text(latex: str, text: str) -> None:
    assert latex_to_text(latex) == text


def test_author_names_are_turned_round_and_decoded() -> None:
    raw = r"M{\"u}ller, J{\"o}rg and van der Berg, Anna and Smith, Jr., John and {Barnes and Noble}"
    assert authors(raw) == (
        "Jörg Müller",
        "Anna van der Berg",
        "John Smith, Jr.",
        "Barnes and Noble",
    )


def test_duplicate_key_is_reported() -> None:
    abstract = (
        "An abstract that is long enough to count as one, about routing tokens to experts. " * 2
    )
    text = f"@misc{{k, title={{One}}, abstract={{{abstract}}}}}\n@misc{{k, title={{Two}}}}\n"
    entries, issues = parse_bibtex(text, "d.bib")
    assert [e.title for e in entries] == ["One"]
    assert [str(i) for i in issues] == [
        "d.bib:2: error: entry 'k' repeats a key used earlier in the file; skipped"
    ]


@pytest.mark.slow
def test_zotero_export_reads_its_pdf_attachments(
    tmp_path: Path, pdf_fixtures: fx.FixturePdfs
) -> None:
    root = make_library(tmp_path, pdf_fixtures).resolve()
    entries, issues = read_export(tmp_path / "zotero.bib", SourceSettings())
    by_title = {e.title: e for e in entries}
    sparse = by_title["Sparse Mixture Routing for Efficient On-Device Speech Recognition"]
    assert sparse.abstract.startswith(fx.TWO_ABSTRACT_START)  # from the PDF: the export had none
    assert sparse.year == 2023  # the export's year wins over the PDF's
    assert len(sparse.pages) >= 3
    assert [p.number for p in sparse.pages] == list(range(1, len(sparse.pages) + 1))
    calibrated = by_title[
        "Calibrated Retrieval for Long-Document Question Answering: When to Say No"
    ]
    assert calibrated.abstract.startswith("Retrieval-augmented readers answer from a few passages")
    assert len(calibrated.pages) == 4
    assert "An Abstract, and a Locked PDF" in by_title  # kept for its abstract
    assert "Attachments That Try to Leave the Library" not in by_title
    assert [str(i) for i in issues if i.line in (2, 37, 43)] == [
        "zotero.bib:2: warning: attachment files/12/snapshot.html is not a PDF; skipped (only PDFs are read)",
        f"zotero.bib:37: error: attachment path ../../etc/passwd is outside the library folder {root}; skipped",
        f"zotero.bib:37: error: attachment path /etc/passwd is outside the library folder {root}; skipped",
        f"zotero.bib:37: error: attachment path file:///etc/passwd is outside the library folder {root}; skipped",
        "zotero.bib:37: error: 'Attachments That Try to Leave the Library' has no abstract and no readable attachment; skipped",
        "zotero.bib:43: error: attachment files/14/encrypted.pdf: encrypted PDF (password protected); export it without a password",
    ]
