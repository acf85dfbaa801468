"""PDF → Entry: what a user would notice in the stored text (page numbers, reading order, no
ligature glyphs, joined hyphenation, no running headers or references, metadata), and one
specific Issue for each kind of broken PDF while the other files still parse.

Tests on Chromium-printed fixtures are marked slow; the cleaning rules are also tested directly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.settings import SourceSettings
from rag.sources.pdf import read_pdf
from rag.sources.pdfmeta import paper_meta, plausible_title
from rag.sources.pdftext import (
    RawLine,
    RawPage,
    clean_pages,
    dehyphenate,
    drop_references,
    drop_running_lines,
    junk_share,
    keeps_hyphen,
    normalise,
    vocabulary,
)
from rag.sources.records import Entry, clean
from tests.fixtures import pdfs as fx

LIGATURES = re.compile(r"[\ufb00-\ufb06\ue000-\uf8ff]")


def one(path: Path, **limits: object) -> Entry:
    entries, issues = read_pdf(path, SourceSettings(**limits))
    assert [i for i in issues if i.severity == "error"] == []
    assert len(entries) == 1
    return entries[0]


def full_text(entry: Entry) -> str:
    return " ".join(p.text for p in entry.pages)


def only_issue(path: Path, **limits: object) -> str:
    entries, issues = read_pdf(path, SourceSettings(**limits))
    assert entries == []
    assert len(issues) == 1 and issues[0].severity == "error"
    return str(issues[0])


# --- cleaning rules, no PDF needed ---------------------------------------------------------


def test_nfkc_turns_ligature_glyphs_into_letters_and_drops_private_use_junk() -> None:
    assert normalise("e\ufb03cient work\ufb02ow \ufb01nal\ue001") == "efficient workflow final"


def test_line_end_hyphenation_is_joined_and_real_hyphens_stay() -> None:
    text = "a learned repre-\nsentation of a state-of-\nthe-art model with data-\ndriven data and driven"
    vocab = vocabulary([text])
    out = dehyphenate(text, vocab)
    assert "representation" in out
    assert "state-of-the-art" in out
    assert "data-driven" in out  # both halves are words of this document


def test_hyphen_decision_uses_the_document_vocabulary() -> None:
    assert not keeps_hyphen("recog", "nition", frozenset())
    assert not keeps_hyphen("multi", "task", frozenset({"multitask"}))
    assert keeps_hyphen("multi", "task", frozenset({"multi-task"}))
    assert keeps_hyphen("non", "Euclidean", frozenset())
    assert dehyphenate("inter\u00adnational", frozenset()) == "international"


def _page(n: int, *lines: str, edges: int = 1) -> RawPage:
    raw = [RawLine(t, edge=i < edges or i >= len(lines) - edges) for i, t in enumerate(lines)]
    return RawPage(n, tuple(raw))


def test_running_header_and_page_numbers_are_dropped_but_body_lines_stay() -> None:
    pages = [_page(n, f"Journal of Tests, Vol. {n}", f"Body line {n}.", str(n)) for n in (1, 2, 3)]
    kept = [[ln.text for ln in p] for p in drop_running_lines(pages)]
    assert kept == [["Body line 1."], ["Body line 2."], ["Body line 3."]]


def test_a_line_repeated_on_only_one_page_of_four_is_kept() -> None:
    pages = [_page(n, "Lonely heading" if n == 1 else f"Other {n}x", "body") for n in range(1, 5)]
    kept = drop_running_lines(pages)
    assert kept[0][0].text == "Lonely heading"


def test_references_are_dropped_up_to_an_appendix() -> None:
    lines = [
        [RawLine("Results are good."), RawLine("References")],
        [RawLine("[1] A. Author. A paper. 2020."), RawLine("A Appendix"), RawLine("Proof.")],
    ]
    kept = [[ln.text for ln in p] for p in drop_references(lines)]
    assert kept == [["Results are good."], ["A Appendix", "Proof."]]


def test_pages_keep_their_pdf_numbers_and_empty_pages_are_left_out() -> None:
    pages = [
        _page(1, "Intro text here.", edges=0),
        _page(2, "7", edges=1),
        _page(3, "End.", edges=0),
    ]
    assert [p.number for p in clean_pages(pages).pages] == [1, 3]


# --- Chromium-printed papers -----------------------------------------------------------------


@pytest.mark.slow
def test_one_column_paper_metadata_and_abstract(pdf_fixtures: fx.FixturePdfs) -> None:
    e = one(pdf_fixtures.one_column)
    assert e.title == fx.ONE_TITLE
    assert e.authors == fx.ONE_AUTHORS
    assert e.year == fx.ONE_YEAR
    assert e.abstract == fx.ONE_ABSTRACT


@pytest.mark.slow
def test_one_column_pages_are_numbered_without_header_footer_or_references(
    pdf_fixtures: fx.FixturePdfs,
) -> None:
    e = one(pdf_fixtures.one_column)
    assert [p.number for p in e.pages] == [1, 2, 3, 4]
    text = full_text(e)
    assert fx.ONE_HEADER not in text
    for p in e.pages:
        assert not re.match(rf"^{p.number}\b", p.text) and not re.search(rf"\b{p.number}$", p.text)
    for ref in fx.ONE_REFERENCES:
        assert ref[5:40] not in text
    assert "needs no change to the retriever" in e.pages[-1].text  # the body before them stays


@pytest.mark.slow
def test_two_column_title_comes_from_the_page_when_metadata_is_a_file_name(
    pdf_fixtures: fx.FixturePdfs,
) -> None:
    e = one(pdf_fixtures.two_column)  # Chromium wrote Title = "two-column.html"
    assert e.title == fx.TWO_TITLE
    assert e.authors == fx.TWO_AUTHORS
    assert e.abstract.startswith(fx.TWO_ABSTRACT_START)
    assert len(e.abstract) >= 100


@pytest.mark.slow
def test_two_column_text_has_letters_not_ligature_glyphs(pdf_fixtures: fx.FixturePdfs) -> None:
    text = full_text(one(pdf_fixtures.two_column))
    assert not LIGATURES.search(text)
    for word in (*fx.LIGATURE_WORDS, "final", "reflection", "definition"):
        assert re.search(rf"\b{word}\b", text), word


@pytest.mark.slow
def test_two_column_hyphenation_joined_and_real_hyphen_kept(pdf_fixtures: fx.FixturePdfs) -> None:
    text = full_text(one(pdf_fixtures.two_column))
    for left, right in fx.HYPHEN_BROKEN:
        assert f" {left}{right} " in text and f"{left}-" not in text
    for parts in fx.SOFT_HYPHEN_WORDS:
        assert text.count(" " + "".join(parts) + " ") == 2
    assert "state-of-the-art" in text
    assert "\u00ad" not in text and "\u2010" not in text


def _sentence_spans_columns(path: Path, sentences: tuple[str, ...]) -> bool:
    """Fixture check: some sentence starts in the left column and ends in the right one."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        for page in doc:
            tp = page.get_textpage()
            raw = tp.get_text_range()
            dense = [(i, c) for i, c in enumerate(raw) if not c.isspace() and c != "\ufffe"]
            squeezed = "".join(c for _, c in dense)
            mid = page.get_width() / 2
            for s in sentences:
                at = squeezed.find("".join(s.split()))
                if at >= 0:
                    first, last = dense[at][0], dense[at + len("".join(s.split())) - 1][0]
                    if tp.get_charbox(first)[0] < mid < tp.get_charbox(last)[0]:
                        return True
    finally:
        doc.close()
    return False


@pytest.mark.slow
def test_two_column_sentences_read_in_order_across_the_column_break(
    pdf_fixtures: fx.FixturePdfs,
) -> None:
    assert _sentence_spans_columns(pdf_fixtures.two_column, fx.TWO_SENTENCES)
    text = full_text(one(pdf_fixtures.two_column))
    positions = [text.find(s) for s in fx.TWO_SENTENCES]
    assert -1 not in positions
    assert positions == sorted(positions)
    assert fx.TWO_HEADER not in text
    assert fx.TWO_REFERENCES[0][:30] not in text


@pytest.mark.slow
def test_500_page_pdf_is_read_whole_within_the_default_limits(pdf_fixtures: fx.FixturePdfs) -> None:
    e = one(pdf_fixtures.long)
    assert len(e.pages) == fx.LONG_PAGES
    assert e.pages[-1].number == 500 and "Page 500 of the long report" in e.pages[-1].text


@pytest.mark.slow
def test_page_limit_reads_the_first_pages_and_warns(pdf_fixtures: fx.FixturePdfs) -> None:
    entries, issues = read_pdf(pdf_fixtures.long, SourceSettings(max_pdf_pages=40))
    assert [p.number for p in entries[0].pages] == list(range(1, 41))
    assert [str(i) for i in issues] == [
        "long.pdf: warning: PDF has 500 pages; read the first 40 (RAG_SOURCES_MAX_PDF_PAGES)"
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("which", "message"),
    [
        (
            "encrypted",
            "encrypted.pdf: error: encrypted PDF (password protected); export it without a password",
        ),
        (
            "corrupt",
            "corrupt.pdf: error: not a PDF (no %PDF- header: random bytes or another format named .pdf); skipped",
        ),
        (
            "truncated",
            "truncated.pdf: error: truncated PDF (no %%EOF end marker: the download or copy was cut short); download or export it again",
        ),
        (
            "image_only",
            "scan.pdf: error: no text layer (scanned?); run OCR first (e.g. ocrmypdf) and add the result",
        ),
    ],
)
def test_each_broken_pdf_gives_its_own_message(
    pdf_fixtures: fx.FixturePdfs, which: str, message: str
) -> None:
    assert only_issue(getattr(pdf_fixtures, which)) == message


@pytest.mark.slow
def test_file_over_the_size_limit_is_skipped_with_the_setting_named(
    pdf_fixtures: fx.FixturePdfs,
) -> None:
    msg = only_issue(pdf_fixtures.long, max_file_mb=0.1)
    assert "over the 0.1 MB limit" in msg and "RAG_SOURCES_MAX_FILE_MB" in msg


@pytest.mark.slow
def test_parse_past_the_time_limit_is_stopped_and_reported(pdf_fixtures: fx.FixturePdfs) -> None:
    msg = only_issue(pdf_fixtures.long, pdf_timeout_s=0.001)
    assert "took longer than 0.001 s and was stopped" in msg and "RAG_SOURCES_PDF_TIMEOUT_S" in msg


@pytest.mark.slow
def test_broken_files_do_not_stop_the_good_ones(pdf_fixtures: fx.FixturePdfs) -> None:
    files = sorted(pdf_fixtures.folder.glob("*.pdf"))
    results = {f.name: read_pdf(f, SourceSettings()) for f in files}
    good = {n for n, (entries, _) in results.items() if entries}
    assert good == {"one-column.pdf", "two-column.pdf", "long.pdf"}
    for name, (entries, issues) in results.items():
        assert len(issues) == (0 if entries else 1), name


# --- metadata rules, no PDF needed ---------------------------------------------------------


def _lines(*texts: str, sizes: tuple[float, ...] = ()) -> list[RawLine]:
    return [RawLine(t, size=sizes[i] if i < len(sizes) else 0.0) for i, t in enumerate(texts)]


BODY = "We route tokens to experts and measure how often the routing changes during training. " * 3


@pytest.mark.parametrize(
    ("title", "plausible"),
    [
        ("two-column.html", False),
        ("Microsoft Word - draft_v3.docx", False),
        ("Untitled", False),
        ("paper", False),
        ("/home/me/papers/x", False),
        ("Sparse Routing in Mixture-of-Experts Models", True),
    ],
)
def test_metadata_title_plausibility(title: str, plausible: bool) -> None:
    assert plausible_title(title, "paper") is plausible


def test_metadata_author_keywords_and_page_doi_and_arxiv_year() -> None:
    first = _lines(
        "arXiv:2305.01234v2 [cs.LG] 3 May 2023",
        "Stable Routing for Experts",
        "Someone Unlisted",
        "https://doi.org/10.1145/3580305.3599999.",
        "Abstract",
        BODY,
        "1 Introduction",
        sizes=(9.0, 18.0, 11.0, 9.0, 11.0, 10.0, 12.0),
    )
    meta = {
        "Author": "A. Smith; B. Jones",
        "Keywords": "routing, experts",
        "CreationDate": "D:20250101",
    }
    m = paper_meta(meta, first, BODY, frozenset(), "stable")
    assert m.title == "Stable Routing for Experts"  # largest font on page 1
    assert m.authors == ("A. Smith", "B. Jones")
    assert m.keywords == ("routing", "experts")
    assert m.doi == "10.1145/3580305.3599999"
    assert m.year == 2023  # the arXiv stamp, not the file's CreationDate
    assert m.abstract == clean(BODY)


def test_without_an_abstract_heading_the_body_start_is_the_abstract() -> None:
    long_body = BODY * 10
    first = _lines("A Paper With No Abstract Heading", "Ada Lovelace and Alan Turing", long_body)
    body = clean(" ".join(ln.text for ln in first))
    m = paper_meta({"CreationDate": "D:20190304"}, first, body, frozenset(), "x")
    assert m.title == "A Paper With No Abstract Heading"  # no sizes: first line of 3+ words
    assert m.authors == ("Ada Lovelace", "Alan Turing")
    assert m.year == 2019
    assert m.abstract.startswith("We route tokens") and m.abstract.endswith(".")
    assert 1000 < len(m.abstract) <= 1500


def test_pdf_needing_too_much_memory_is_reported_and_parsing_goes_on(tmp_path: Path) -> None:
    bomb = fx.content_bomb_pdf(tmp_path, inflated_mb=100)
    msg = only_issue(bomb, pdf_memory_mb=64)
    assert "more than 64 MB of memory (RAG_SOURCES_PDF_MEMORY_MB)" in msg
    assert read_pdf(bomb, SourceSettings(pdf_memory_mb=64))[0] == []  # and again: the app lives


def test_unreadable_text_layer_share_counts_glyphs_without_meaning() -> None:
    pages = [_page(1, "Readable words here", "\ue001\ue002\ue003 \ufffd\ufffd", edges=0)]
    assert junk_share(pages) == pytest.approx(5 / 22)
