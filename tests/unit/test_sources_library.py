"""One entry point for a folder of library files: each file is read by its format, and broken
files cost their own Issues while the others are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import SourceSettings
from rag.sources.library import LIBRARY_SUFFIXES, read_library_file
from tests.fixtures import pdfs as fx
from tests.fixtures.exports import make_library


def test_unknown_suffix_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not a library file; use one of \.pdf, \.bib"):
        read_library_file(tmp_path / "notes.docx", SourceSettings())


@pytest.mark.slow
def test_a_folder_of_good_and_broken_files_is_read_file_by_file(
    tmp_path: Path, pdf_fixtures: fx.FixturePdfs
) -> None:
    make_library(tmp_path, pdf_fixtures)
    for broken in (pdf_fixtures.corrupt, pdf_fixtures.truncated, pdf_fixtures.image_only):
        (tmp_path / broken.name).write_bytes(broken.read_bytes())
    (tmp_path / "empty.ris").write_text("")
    files = sorted(f for f in tmp_path.iterdir() if f.suffix in LIBRARY_SUFFIXES)
    results = {f.name: read_library_file(f, SourceSettings()) for f in files}
    assert {n: len(entries) for n, (entries, _) in results.items()} == {
        "corrupt.pdf": 0,
        "empty.ris": 0,
        "scan.pdf": 0,
        "truncated.pdf": 0,
        "zotero.bib": 4,
        "zotero.json": 3,
        "zotero.ris": 3,
    }
    assert [str(i) for i in results["empty.ris"][1]] == [
        "empty.ris: warning: empty file; nothing to ingest"
    ]
