"""CSL-JSON as Zotero exports it: fields, markup stripped, one Issue per broken item with the
items after it still read, and an attachment read for an item without an abstract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.settings import SourceSettings
from rag.sources.csljson import parse_csljson
from rag.sources.library import read_export
from tests.fixtures import pdfs as fx
from tests.fixtures.exports import CSL, make_library

ABSTRACT = (
    "Sparse experts cut the compute of speech models on phones; we show where the savings go. " * 2
)


def parsed() -> tuple[dict, list[str]]:
    entries, issues = parse_csljson(CSL.read_text(encoding="utf-8"), CSL.name)
    return {e.title: e for e in entries}, [str(i) for i in issues]


def test_zotero_item_fields() -> None:
    entries, _ = parsed()
    e = entries["Calibrated Retrieval for Long-Document Question Answering"]
    assert e.authors == ("Mara Lindqvist", "Tomasz Okafor", "Priya Raman")
    assert (e.year, e.doi, e.venue) == (2024, "10.5555/jir.2024.017", "Journal of Invented Results")
    assert e.keywords == ("retrieval", "calibration")
    assert "scores are rarely calibrated. We train" in e.abstract  # <i>…</i> gone, no stray space
    sparse = entries["Sparse Mixture Routing for Efficient On-Device Speech Recognition"]
    assert sparse.authors == ("Inês Carvalho", "Daniel Mwangi")  # {"literal": …} too
    assert entries["Entries After a Broken One Still Count"].year == 2017  # issued.raw


def test_broken_item_costs_one_issue_and_later_items_still_count() -> None:
    entries, issues = parsed()
    assert len(entries) == 3
    assert issues == [
        "zotero.json:26: error: bad JSON in the item starting here (Expecting ',' delimiter: "
        "line 29 column 3 (char 1112)); skipped",
        "zotero.json:31: error: entry 'NOTITLE' has no title; skipped",
    ]


def test_not_an_array_is_one_issue() -> None:
    entries, issues = parse_csljson(json.dumps({"title": "x"}), "obj.json")
    assert entries == []
    assert [str(i) for i in issues] == [
        "obj.json:1: error: not a CSL-JSON export (expected a JSON array [ … ]); skipped"
    ]


def test_wrong_types_do_not_raise() -> None:
    items = [
        {"title": ["A list title"], "abstract": ABSTRACT, "author": "not a list", "issued": 2020},
        {"title": 42, "abstract": ABSTRACT},
        "a string item",
    ]
    entries, issues = parse_csljson(json.dumps(items, indent=1), "t.json")
    assert [(e.title, e.year, e.authors) for e in entries] == [("A list title", 2020, ())]
    assert [i.message for i in issues] == [
        "entry has no title; skipped",
        "item is a JSON str, not an object; skipped",
    ]


@pytest.mark.slow
def test_item_without_abstract_gets_its_pdf_text(
    tmp_path: Path, pdf_fixtures: fx.FixturePdfs
) -> None:
    make_library(tmp_path, pdf_fixtures)
    entries, issues = read_export(tmp_path / "zotero.json", SourceSettings())
    sparse = next(e for e in entries if e.title.startswith("Sparse Mixture Routing"))
    assert sparse.abstract.startswith(fx.TWO_ABSTRACT_START)
    assert any("efficient" in p.text for p in sparse.pages)
    assert [i.severity for i in issues] == ["error", "error"]  # the two broken items, no more
