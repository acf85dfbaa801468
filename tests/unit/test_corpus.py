"""Parser behaviour on both listing layouts, JSONL, and each kind of broken input."""

import json
import random
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.settings import Settings, SourceSettings
from rag.sources.identity import paper_id
from rag.sources.listing import parse_listing
from rag.sources.loader import load_corpus
from rag.sources.records import SourceFile

A1 = "Alpha: A Study of Things"
A2 = "Beta Networks for Gamma"
ABS1 = "We study things. " * 12
ABS2 = "Gamma is hard; beta networks help a lot with it. " * 8


def spaced(*lines: str) -> str:
    return "\n\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_blank_line_layout_with_headers() -> None:
    text = spaced(
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
        "Mar 11",
        A1,
        ABS1,
        A2,
        ABS2,
    )
    entries, issues = parse_listing(text, "a.txt")
    assert [e.title for e in entries] == [A1, A2]
    assert issues == []


def test_glued_subscribe_layout() -> None:
    text = "\n".join(
        [
            "Get trending papers in your email inbox once a day!",
            "Get trending papers in your email inbox!",
            "Subscribe" + A1,
            ABS1,
            A2,
            ABS2,
        ]
    )
    entries, issues = parse_listing(text, "b.txt")
    assert [e.title for e in entries] == [A1, A2]
    assert entries[0].abstract == ABS1.strip()
    assert issues == []


def test_missing_abstract_costs_one_record_not_the_rest() -> None:
    text = spaced("Subscribe", A1, "Orphan Title Without Abstract", A2, ABS2, "Third Paper", ABS1)
    entries, issues = parse_listing(text, "c.txt")
    assert [e.title for e in entries] == [A2, "Third Paper"]
    # Two short lines in a row cannot be told apart: one record rejected, naming the title;
    # the line is the too-short "abstract" (5), not the blank line after the title (4).
    assert len(issues) == 1 and issues[0].file == "c.txt" and issues[0].line == 5
    assert A1[:20] in issues[0].message


def test_header_line_where_title_should_be_is_reported() -> None:
    entries, issues = parse_listing(spaced(A1, ABS1, "Subscribe", A2, ABS2), "d.txt")
    orphan, orphan_issues = parse_listing(spaced(A1, A2, ABS2), "d2.txt")
    assert [e.title for e in orphan] == [A2] and "has no abstract" in orphan_issues[0].message
    assert [e.title for e in entries] == [A1, A2]
    assert len(issues) == 1 and "header-like" in issues[0].message and issues[0].line == 5


def test_short_abstract_and_odd_line_count_are_rejected_with_line() -> None:
    entries, issues = parse_listing("\n".join([A1, "Too short.", A2, ABS2, "Dangling Title"]), "e")
    assert [e.title for e in entries] == [A2]
    assert {i.line for i in issues} == {2, 5}
    assert any("only 10 characters" in i.message for i in issues)


def test_huge_line_is_rejected_not_crashing() -> None:
    entries, issues = parse_listing("\n".join([A1, "x" * 1_000_000, A2, ABS2]), "f.txt")
    assert [e.title for e in entries] == [A2]
    assert "1,000,000 characters" in issues[0].message


def test_empty_file_and_non_utf8_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "latin.txt", f"{A1}\n{ABS1}\n".encode() + b"Caf\xe9 Title\n" + ABS2.encode())
    result = load_corpus([tmp_path])
    assert sorted(p.title for p in result.papers) == sorted([A1, "Caf\ufffd Title"])
    messages = [str(i) for i in result.issues]
    assert any("empty.txt" in m and "empty file" in m for m in messages)
    offset = len(f"{A1}\n{ABS1}\n".encode()) + 3
    assert any("latin.txt" in m and f"byte offset {offset}" in m for m in messages)


def test_duplicates_merge_sources_and_conflicts_keep_first(tmp_path: Path) -> None:
    write(tmp_path, "a1.txt", spaced(A1, ABS1))
    write(tmp_path, "b2.txt", spaced(A1.upper() + " ", ABS1, A2, ABS2))
    write(tmp_path, "c3.txt", spaced(A2, "A different abstract about gamma. " * 5))
    result = load_corpus([tmp_path])
    assert result.entries == 4 and len(result.papers) == 2 and result.merged_duplicates == 2
    by_title = {p.title: p for p in result.papers}
    assert by_title[A1].sources == ("a1.txt", "b2.txt")
    assert by_title[A2].abstract == ABS2.strip()
    conflict = [i for i in result.issues if "different abstract" in i.message]
    assert len(conflict) == 1 and conflict[0].file == "c3.txt"


def test_jsonl_records_and_bad_lines(tmp_path: Path) -> None:
    good = '{"title": "%s", "abstract": "%s", "year": 2024, "authors": ["A. B."], "url": "u"}'
    write(
        tmp_path,
        "mine.jsonl",
        "\n".join([good % (A1, ABS1.strip()), "{not json", '{"title": "x"}', "[]"]),
    )
    result = load_corpus([tmp_path / "mine.jsonl"])
    assert [(p.title, p.year, p.authors) for p in result.papers] == [(A1, 2024, ("A. B.",))]
    assert [i.line for i in result.issues] == [2, 3, 4]


def test_paper_id_is_stable_under_case_and_punctuation() -> None:
    assert paper_id("QLoRA: Efficient  Finetuning") == paper_id("qlora efficient finetuning")
    assert paper_id("QLoRA") != paper_id("LoRA")


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus([tmp_path / "nope"])


def test_bundled_seed_corpus_counts() -> None:
    result = load_corpus([Path(__file__).parents[2] / "data" / "corpus"])
    assert (result.files, result.entries, len(result.papers)) == (4, 601, 519)
    assert result.rejected == 0


MINIMAL_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BINARIES = {
    "random.txt": bytes(random.Random(7).randrange(256) for _ in range(100_000)),
    "figure.txt": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "notes.txt": b"PK\x03\x04" + b"word/document.xml" * 20,
    "utf16.txt": spaced(A1, ABS1).encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_binary_files_are_refused_with_one_line_and_the_rest_is_read(
    tmp_path: Path, name: str
) -> None:
    """Issue #10.2: binary input was read as text and stored hundreds of junk papers."""
    bad = write(tmp_path, name, BINARIES[name])
    good = write(tmp_path, "good.txt", spaced(A1, ABS1))
    result = load_corpus([bad, good])
    assert [p.title for p in result.papers] == [A1]
    refused = [i for i in result.issues if i.file == name]
    assert len(refused) == 1 and refused[0].severity == "error" and refused[0].line == 0
    assert str(refused[0]).startswith(f"{name}: error: binary file (")
    assert str(refused[0]).endswith("not a text listing — skipped")
    assert "\n" not in str(refused[0])


@pytest.mark.parametrize("name", ["paper.pdf", "renamed-pdf.txt", "paper.PDF"])
def test_a_pdf_goes_to_the_pdf_reader_whatever_its_name(tmp_path: Path, name: str) -> None:
    """Issue #13: PDFs were refused as binary files; now the PDF reader says what is wrong."""
    bad = write(tmp_path, name, MINIMAL_PDF)  # a header and no page: PDFium cannot read it
    result = load_corpus([bad, write(tmp_path, "good.txt", spaced(A1, ABS1))])
    assert [p.title for p in result.papers] == [A1]
    assert [str(i) for i in result.issues] == [
        f"{name}: error: damaged PDF (PDFium cannot read its structure); download or export it "
        "again"
    ]
    assert SourceFile(name, str(bad.resolve())) not in result.read  # refused: not current


def test_latin1_prose_is_text_with_a_warning_not_binary(tmp_path: Path) -> None:
    text = spaced("Étude des modèles", "Les modèles à experts épars sont étudiés ici. " * 4)
    result = load_corpus([write(tmp_path, "fr.txt", text.encode("latin-1"))])
    assert len(result.papers) == 1 and [i.severity for i in result.issues] == ["warning"]


def test_one_size_limit_from_settings_holds_for_every_format(tmp_path: Path) -> None:
    """Issue #10.5: a 25k-character (or 5 MB) JSONL abstract was accepted and chunked."""
    long = "Sparse experts route tokens. " * 900  # 26,100 characters
    huge = "x " * 2_500_000  # 5 MB
    rows = [{"title": "Long", "abstract": long}, {"title": "Huge", "abstract": huge}]
    write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    write(tmp_path, "b.txt", spaced("Long Listing", long, A1, ABS1))
    result = load_corpus([tmp_path])
    assert [p.title for p in result.papers] == [A1]
    assert [(i.file, i.line) for i in result.issues] == [
        ("a.jsonl", 1),
        ("a.jsonl", 2),
        ("b.txt", 3),
    ]
    assert all("(limit 20,000: RAG_SOURCES_MAX_RECORD_CHARS)" in i.message for i in result.issues)
    raised = load_corpus([tmp_path], SourceSettings(max_record_chars=30_000))
    assert sorted(p.title for p in raised.papers) == sorted([A1, "Long", "Long Listing"])


def test_the_size_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_SOURCES_MAX_RECORD_CHARS", "50000")
    assert Settings().sources.max_record_chars == 50_000


def test_titles_keep_their_symbols_and_lose_their_invisible_characters() -> None:
    """Issue #10.6: C++/C# and emoji-only titles merged; ZWSP or soft hyphen split a paper."""
    assert paper_id("C++ Compilers") != paper_id("C# Compilers") != paper_id("C Compilers")
    assert paper_id("🔥") != paper_id("🚀") and paper_id("???") != paper_id("!!!")
    assert paper_id("???") != paper_id("") and paper_id("🔥") == paper_id("🔥\ufe0f")
    same = [
        "Sparse Experts",
        "Sparse\u200b Experts",
        "Spar\u00adse Experts",
        "\ufeffSPARSE experts",
    ]
    assert len({paper_id(t) for t in same}) == 1
    assert paper_id("Eﬃcient Ｅxperts") == paper_id("Efficient Experts")  # NFKC: ligature, width


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_identity_rule_doi_then_title_and_an_id_is_a_label(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", jsonl(
        {"title": "C++ Compilers", "abstract": ABS1},
        {"title": "C# Compilers", "abstract": ABS2},
        {"title": "🔥", "abstract": ABS1, "id": "7"},
        {"title": "🚀", "abstract": ABS2, "id": "7"},  # shares an id: still another paper
        {"title": "Sparse\u200bExperts", "abstract": ABS1, "id": "mine-1"},
        {"title": "Same DOI, other title", "abstract": ABS1, "doi": "https://doi.org/10.1234/ABC"},
        {"title": "Same title", "abstract": ABS1, "doi": "10.1234/one"},
        {"title": "Same title", "abstract": ABS2, "doi": "10.1234/two"},
    ))  # fmt: skip
    write(tmp_path, "b.txt", spaced("SparseExperts", ABS1, "Other Title", ABS1))
    write(
        tmp_path, "c.jsonl", jsonl({"title": "Other title", "abstract": ABS1, "doi": "10.1234/abc"})
    )
    result = load_corpus([tmp_path])
    titles = sorted(p.title for p in result.papers)
    assert titles == sorted(
        ["C++ Compilers", "C# Compilers", "🔥", "🚀", "Sparse\u200bExperts",
         "Same DOI, other title", "Same title", "Same title", "Other Title"]
    )  # fmt: skip
    by_title = {p.title: p for p in result.papers}
    sparse = by_title["Sparse\u200bExperts"]
    assert sparse.sources == ("a.jsonl", "b.txt") and sparse.external_id == "mine-1"
    assert sparse.id == paper_id("SparseExperts")  # the title's id, not the label
    # c.jsonl's record has that DOI and Other Title's title: the DOI decides
    assert by_title["Same DOI, other title"].sources == ("a.jsonl", "c.jsonl")
    assert by_title["Other Title"].sources == ("b.txt",)
    assert len({p.id for p in result.papers}) == len(result.papers)
    warnings = [i.message for i in result.issues]
    assert any("id '7' is also given to '🔥'" in m for m in warnings)
    assert not any("C++" in m or "C#" in m for m in warnings)


def test_a_folder_is_read_with_its_subfolders_any_case_and_a_notice_for_the_rest(
    tmp_path: Path,
) -> None:
    """Issue #10.11: *.JSONL, *.json and subfolders of a folder argument were skipped silently."""
    write(tmp_path, "A.JSONL", jsonl({"title": A1, "abstract": ABS1}))
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    write(tmp_path, "sub/deeper/b.txt", spaced(A2, ABS2))
    write(tmp_path, "notes.docx", b"PK\x03\x04")
    write(tmp_path, "sub/figure.png", b"\x89PNG")
    (tmp_path / ".git").mkdir()
    result = load_corpus([tmp_path])
    assert sorted((p.title, p.sources) for p in result.papers) == [
        (A1, ("A.JSONL",)), (A2, ("sub/deeper/b.txt",))
    ]  # fmt: skip
    assert [str(i) for i in result.issues] == [
        f"{tmp_path.name}/: warning: 3 entries not read (hidden ×1, .docx ×1, .png ×1): "
        "only .txt, .jsonl, .pdf, .bib, .bibtex, .ris, .json files are ingested"
    ]
