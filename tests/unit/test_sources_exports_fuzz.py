"""Property-based fuzzing of the export parsers: whatever the text, parse_bibtex, parse_ris and
parse_csljson return entries and issues, never raise, and every issue points at a real line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.sources.bibtex import parse_bibtex
from rag.sources.csljson import parse_csljson
from rag.sources.records import Entry, Issue
from rag.sources.ris import parse_ris
from rag.sources.text import NEWLINE
from tests.fixtures.exports import BIB, CSL, RIS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Parser = Callable[[str, str], tuple[list[Entry], list[Issue]]]
# Pieces of each format, so the fuzzer reaches past the first syntax check.
PIECES: dict[str, list[str]] = {
    "bib": [
        "@article{",
        "@misc{k,",
        "title = {",
        "abstract = {",
        "file = {",
        "}",
        "{",
        ",",
        '"',
        "\\emph{",
        '{\\"o}',
        "%",
        "@comment{",
        "author = {A and B}",
        "\n",
    ],
    "ris": [
        "TY  - JOUR\n",
        "ER  - \n",
        "TI  - ",
        "AB  - ",
        "AU  - ",
        "L1  - ",
        "PY  - ",
        "KW  - ",
        "\n",
        "  -",
        "UR  - file:///",
    ],
    "json": [
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        '"title"',
        '"abstract"',
        '"author"',
        '"issued"',
        '"date-parts"',
        "[[2020]]",
        '"x"',
        "null",
        "\n\t{",
        "1e999",
    ],
}
SAMPLES = {"bib": BIB, "ris": RIS, "json": CSL}
PARSERS: dict[str, Parser] = {"bib": parse_bibtex, "ris": parse_ris, "json": parse_csljson}


def texts(kind: str) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(PIECES[kind]), st.text(max_size=20))
    spliced = st.builds(
        lambda cut, junk: SAMPLES[kind].read_text(encoding="utf-8")[:cut] + junk,
        st.integers(0, 4000),
        st.text(max_size=40),
    )
    return st.one_of(st.lists(piece, max_size=40).map("".join), spliced)


def check(kind: str, text: str) -> None:
    entries, issues = PARSERS[kind](text, f"f.{kind}")
    lines = len(NEWLINE.split(text))
    assert all(0 <= i.line <= lines for i in issues)
    assert all(e.title and (e.abstract or e.attachments) for e in entries)


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_parsers_never_raise(kind: str) -> None:
    @FUZZ
    @given(texts(kind))
    def run(text: str) -> None:
        check(kind, text)

    run()
