"""Attachment paths: every `file` field form parsed as written, and resolve_attachment keeping
the reader inside the library folder whatever an export says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.sources.attachments import resolve_attachment, split_file_field
from rag.sources.records import Issue


@pytest.mark.parametrize(
    ("field", "paths"),
    [
        (
            "Full Text PDF:files/12/paper.pdf:application/pdf;Snapshot:files/12/snap.html:text/html",
            ("files/12/paper.pdf", "files/12/snap.html"),
        ),
        (
            "/home/me/Zotero/storage/AB/x.pdf;/home/me/y.pdf",
            ("/home/me/Zotero/storage/AB/x.pdf", "/home/me/y.pdf"),
        ),
        (r"Full Text:C\:\\Users\\me\\x.pdf:application/pdf", ("C:\\Users\\me\\x.pdf",)),
        (r"files/a\;b.pdf", ("files/a;b.pdf",)),
        (":papers/x.pdf:PDF", ("papers/x.pdf",)),
        ("", ()),
    ],
)
def test_file_field_forms(field: str, paths: tuple[str, ...]) -> None:
    assert split_file_field(field) == paths


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """tmp/lib/ is the library: export.bib, files/12/paper.pdf, notes.html; tmp/outside.pdf."""
    lib = tmp_path / "lib"
    (lib / "files" / "12").mkdir(parents=True)
    (lib / "files" / "12" / "paper.pdf").write_bytes(b"%PDF-1.7\n")
    (lib / "files" / "my paper.pdf").write_bytes(b"%PDF-1.7\n")
    (lib / "notes.html").write_text("<p>notes</p>")
    (lib / "export.bib").write_text("")
    (tmp_path / "outside.pdf").write_bytes(b"%PDF-1.7\n")
    return lib


def resolve(library: Path, raw: str, root: Path | None = None) -> Path | Issue:
    return resolve_attachment(raw, library / "export.bib", root or library, line=7)


def message(found: Path | Issue) -> str:
    assert isinstance(found, Issue), found
    return str(found)


def test_relative_path_resolves_against_the_export_folder(library: Path) -> None:
    assert resolve(library, "files/12/paper.pdf") == (library / "files/12/paper.pdf").resolve()


def test_file_uri_inside_the_library_is_read(library: Path) -> None:
    uri = (library / "files" / "my paper.pdf").resolve().as_uri()  # file:///…/my%20paper.pdf
    assert resolve(library, uri) == (library / "files" / "my paper.pdf").resolve()


@pytest.mark.parametrize(
    "raw", ["../../etc/passwd", "/etc/passwd", "file:///etc/passwd", "files/../../outside.pdf"]
)
def test_paths_leaving_the_library_are_refused(library: Path, raw: str) -> None:
    root = library.resolve()
    assert message(resolve(library, raw)) == (
        f"export.bib:7: error: attachment path {raw} is outside the library folder {root}; skipped"
    )


def test_symlink_that_escapes_is_refused_and_one_that_stays_is_followed(library: Path) -> None:
    (library / "files" / "escape.pdf").symlink_to(library.parent / "outside.pdf")
    (library / "files" / "inside.pdf").symlink_to(library / "files" / "12" / "paper.pdf")
    assert "is outside the library folder" in message(resolve(library, "files/escape.pdf"))
    assert resolve(library, "files/inside.pdf") == (library / "files/12/paper.pdf").resolve()


def test_nul_byte_is_refused(library: Path) -> None:
    assert message(resolve(library, "files/12/paper.pdf\x00.html")) == (
        "export.bib:7: error: attachment path files/12/paper.pdf\\x00.html contains a NUL byte; skipped"
    )
    assert "NUL byte" in message(resolve(library, "file:///x/paper.pdf%00"))


def test_other_hosts_and_links_are_not_local_files(library: Path) -> None:
    for raw in ("file://evil.example.org/share/paper.pdf", "https://example.org/paper.pdf"):
        found = resolve(library, raw)
        assert isinstance(found, Issue) and found.severity == "warning"
        assert found.message == f"attachment {raw} is not a local file; skipped"


def test_non_pdf_is_skipped_with_a_warning(library: Path) -> None:
    found = resolve(library, "notes.html")
    assert isinstance(found, Issue) and found.severity == "warning"
    assert found.message == "attachment notes.html is not a PDF; skipped (only PDFs are read)"


def test_missing_pdf_is_an_error_that_says_where_it_looked(library: Path) -> None:
    where = (library / "files/13/gone.pdf").resolve()
    assert message(resolve(library, "files/13/gone.pdf")) == (
        f"export.bib:7: error: attachment files/13/gone.pdf not found at {where}; skipped"
    )


def test_a_wider_library_root_allows_paths_above_the_export(library: Path) -> None:
    sub = library / "exports"
    sub.mkdir()
    found = resolve_attachment("../files/12/paper.pdf", sub / "x.ris", library)
    assert found == (library / "files/12/paper.pdf").resolve()
    assert isinstance(resolve_attachment("../files/12/paper.pdf", sub / "x.ris", sub), Issue)


def test_symlink_loop_is_an_issue_not_an_exception(library: Path) -> None:
    os.symlink(library / "loop-b.pdf", library / "loop-a.pdf")
    os.symlink(library / "loop-a.pdf", library / "loop-b.pdf")
    assert isinstance(resolve(library, "loop-a.pdf"), Issue)
