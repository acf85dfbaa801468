"""The library side of the index without a store: page chunks, the files a chunk came from
(what re-ingesting or removing a file does), filters, which stored file a name means, and ids
that hold across runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.index import catalog
from rag.index.chunking import chunk_paper, page_texts
from rag.index.filters import Filters, make_filters, matches, parse_years, where
from rag.index.ingest import changes, plan
from rag.index.store import StoredKey
from rag.sources.identity import KnownPaper, paper_id
from rag.sources.loader import load_corpus
from rag.sources.records import PageText, Paper, SourceFile


def words(text: str) -> int:  # a token counter that needs no tokenizer
    return len(text.split())


SENT = "Sparse experts route each token to a few specialised blocks."
A = SourceFile("a.bib", "/lib/a.bib")
B = SourceFile("b.ris", "/lib/b.ris")


def pdf_paper(title: str = "Routing Experts", abstract: str = "") -> Paper:
    pages = (
        PageText(1, f"{SENT} Page one ends in the middle of a"),
        PageText(2, "sentence that began there. Then page two speaks of gates. " + SENT),
        PageText(3, "Hyphens cross breaks: the repre-"),
        PageText(4, "sentation is joined. Page four ends."),
    )
    return Paper(paper_id(title), title, abstract, ("p.pdf",), pages=pages)


def test_page_chunks_keep_their_page_and_a_sentence_the_page_it_starts_on() -> None:
    chunks = chunk_paper(pdf_paper(), max_tokens=60, overlap=0, count=words)
    by_page = {c.page: c.passage for c in chunks}
    assert "in the middle of a sentence that began there." in by_page[1]
    assert by_page[2].startswith("Then page two speaks of gates.")
    assert "the representation is joined." in by_page[3] and 4 in by_page
    assert all(c.text.startswith("Routing Experts\n") for c in chunks)  # title first, as before
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_a_page_opening_is_only_moved_when_the_page_before_ends_mid_sentence() -> None:
    pages = (PageText(1, "A full stop ends it."), PageText(2, "Next page. More."))
    assert page_texts(pages) == [(1, "A full stop ends it."), (2, "Next page. More.")]


def test_the_abstract_gets_chunks_only_when_the_pages_do_not_print_it() -> None:
    curated = pdf_paper(abstract="A curated abstract from the export, not printed in the PDF. " * 3)
    printed = pdf_paper(abstract=SENT + " Page one ends in the middle of a sentence.")
    assert [c.page for c in chunk_paper(curated, 60, 0, words)][0] is None
    assert None not in [c.page for c in chunk_paper(printed, 60, 0, words)]


def test_the_same_pdf_under_two_titles_gives_the_same_chunk_ids() -> None:
    """A .bib and a .ris of one paper name it differently; its pages must not be stored twice."""
    pid = paper_id("Routing Experts")
    short = chunk_paper(pdf_paper(), 60, 0, words)
    long = pdf_paper("Routing Experts: A Very Long Subtitle That Takes Room")
    other = chunk_paper(Paper(pid, long.title, "", ("b.ris",), pages=long.pages), 60, 0, words)
    assert [c.id for c in short] == [c.id for c in other]


# -- the files a chunk came from ----------------------------------------------------------------


def paper(title: str, abstract: str, *files: SourceFile, **kw) -> Paper:
    labels = tuple(f.label for f in files)
    return Paper(paper_id(title), title, abstract, labels, files=files, **kw)


def stored(chunks) -> dict[str, StoredKey]:
    """What Store.chunk_index would read back after writing these chunks as planned."""
    out = {}
    for c in chunks:
        meta = catalog.chunk_metadata(c)
        out[c.id] = StoredKey(c.paper_id, meta["sources"], c.title, c.doi, meta)
    return out


def apply(existing: dict[str, StoredKey], todo) -> dict[str, StoredKey]:
    """The store after a plan (the writes Store would make)."""
    out = {cid: k for cid, k in existing.items() if cid not in set(todo.stale)}
    for cid, change in todo.relabel.items():
        meta = {k: v for k, v in {**out[cid].meta, **change}.items() if v is not None}
        out[cid] = StoredKey(
            meta["paper_id"], meta["sources"], meta["title"], meta.get("doi"), meta
        )
    for c in todo.new:
        meta = todo.metas[c.id]
        out[c.id] = StoredKey(c.paper_id, meta["sources"], c.title, c.doi, meta)
    return out


def chunks_of(*papers: Paper):
    return [c for p in papers for c in chunk_paper(p, 200, 1, words)]


def sources(store: dict[str, StoredKey]) -> dict[str, tuple[str, ...]]:
    return {k.title: tuple(json.loads(k.sources)) for k in store.values()}


X, Y = "Experts route tokens to blocks. " * 4, "Gates pick one expert per frame. " * 4


def test_a_paper_no_longer_in_a_file_loses_it_and_goes_when_no_file_is_left() -> None:
    first = chunks_of(paper("Kept", X, A, B), paper("Gone", Y, A))
    store = apply({}, plan(first, {}, [A, B]))
    todo = plan([], store, [A])  # a.bib read again: it is empty now
    after = apply(store, todo)
    assert sources(after) == {"Kept": ("b.ris",)}
    found = changes(todo, store)
    assert [c.title for c in found["removed_papers"]] == ["Gone"]
    assert [(c.title, c.lost) for c in found["lost_sources"]] == [("Kept", ("a.bib",))]


def test_a_changed_file_replaces_only_its_own_chunks() -> None:
    store = apply({}, plan(chunks_of(paper("P", X, A)), {}, [A]))
    store = apply(store, plan(chunks_of(paper("P", Y, B)), store, [B]))  # b.ris: other text
    assert sorted(k.meta["origins"] for k in store.values()) == [
        json.dumps([["a.bib", "/lib/a.bib"]]),
        json.dumps([["b.ris", "/lib/b.ris"]]),
    ]
    changed = "Gates pick two experts per frame. " * 4
    after = apply(store, plan(chunks_of(paper("P", changed, B)), store, [B]))
    texts = {json.loads(k.meta["origins"])[0][0] for k in after.values()}
    assert texts == {"a.bib", "b.ris"} and len(after) == 2
    assert set(after) - set(store) and (set(store) & set(after))  # a.bib's chunk untouched
    assert all(json.loads(k.sources) == ["a.bib", "b.ris"] for k in after.values())


def test_reading_the_same_files_again_changes_nothing() -> None:
    papers = [paper("P", X, A, B, authors=("Mara Lindqvist",), year=2024)]
    store = apply({}, plan(chunks_of(*papers), {}, [A, B]))
    again = plan(chunks_of(*papers), store, [A, B])
    assert (again.new, again.relabel, again.stale) == ([], {}, [])


def test_chunks_stored_before_paths_were_kept_are_taken_over_by_name() -> None:
    legacy = {
        c.id: StoredKey(c.paper_id, json.dumps(["a.bib"]), c.title, None, {
            "paper_id": c.paper_id, "title": c.title, "position": c.position,
            "sources": json.dumps(["a.bib"]),
        })
        for c in chunks_of(paper("P", X, SourceFile("a.bib")))
    }  # fmt: skip
    after = apply(legacy, plan(chunks_of(paper("P", X, A)), legacy, [A]))
    assert [json.loads(k.meta["origins"]) for k in after.values()] == [[["a.bib", "/lib/a.bib"]]]


def test_a_curated_record_outranks_a_guessed_one_and_gaps_are_filled() -> None:
    guessed = {"title": "Routing", "authors": '["X"]', "from_pdf": True}
    curated = {"title": "Routing Experts", "venue": "JIR", "year": 2024}
    # the PDF came later: it only fills what the export lacked
    assert catalog.merged_fields(guessed, curated) == curated | {"authors": '["X"]'}
    assert catalog.merged_fields({"title": "New", "year": 2025}, curated) == {
        "title": "New", "venue": "JIR", "year": 2025
    }  # fmt: skip


# -- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "years"),
    [("2024", (2024, 2024)), ("2023-2024", (2023, 2024)), ("2023-", (2023, None)),
     ("-2022", (None, 2022)), (" 2023 - 2024 ", (2023, 2024))],
)  # fmt: skip
def test_year_ranges(text: str, years) -> None:
    assert parse_years(text) == years


@pytest.mark.parametrize("bad", ["", "-", "24", "2024-2023", "twenty"])
def test_a_bad_year_is_refused_with_examples(bad: str) -> None:
    with pytest.raises(ConfigError, match="--year"):
        parse_years(bad)


def test_an_author_filter_needs_a_word_and_matches_every_word_without_accents() -> None:
    with pytest.raises(ConfigError, match="--author"):
        make_filters(author="J.")
    keys = catalog.author_keys(["Inês Carvalho", "Daniel Mwangi"])
    f = make_filters(author="ines CARVALHO")
    assert matches(f, 2023, keys, [])
    assert not matches(make_filters(author="Ines Mwangi Okafor"), 2023, keys, [])
    assert where(f) == {
        "$and": [
            {"author_keys": {"$contains": "ines"}},
            {"author_keys": {"$contains": "carvalho"}},
        ]
    }


def test_year_and_source_clauses_and_the_recorded_filters() -> None:
    f = Filters(2023, 2024, None, "refs.bib")
    assert where(f, {"/lib/refs.bib"}) == {
        "$and": [
            {"year": {"$gte": 2023}},
            {"year": {"$lte": 2024}},
            {"source_keys": {"$contains": "/lib/refs.bib"}},
        ]
    }
    assert f.record() == {"year": [2023, 2024], "source": "refs.bib"}
    assert not matches(f, None, [], ["/lib/refs.bib"], {"/lib/refs.bib"})  # no year: no match
    assert not matches(f, 2023, [], ["/lib/refs.bib"], set())  # the file matched nothing
    assert where(Filters()) is None and not Filters()


def test_a_source_is_a_path_a_folder_or_a_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib").mkdir()
    here = SourceFile("refs.bib", str(tmp_path / "lib" / "refs.bib"))
    there = SourceFile("refs.bib", "/elsewhere/refs.bib")
    nested = SourceFile("sub/x.pdf", str(tmp_path / "lib" / "sub" / "x.pdf"))
    files = [here, there, nested, SourceFile("old.txt")]
    assert catalog.match_sources("lib/refs.bib", files) == [here]
    assert catalog.match_sources("lib", files) == [here, nested]
    assert catalog.match_sources("refs.bib", files) == [here, there]
    assert catalog.match_sources("x.pdf", files) == [nested]
    assert catalog.match_sources("old.txt", files) == [SourceFile("old.txt")]
    assert catalog.match_sources("nothing.ris", files) == []


# -- ids across runs ----------------------------------------------------------------------------


def rows(tmp_path: Path, name: str, *records: dict) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_second_paper_with_a_stored_title_and_another_doi_gets_its_own_id(tmp_path) -> None:
    """Run 1 stored 'Same' with DOI …/a; run 2 brings 'Same' with …/b alone: it used to take
    the stored paper's id, and its chunks replaced that paper's."""
    known = [KnownPaper(paper_id("Same"), "Same", "10.1234/a")]
    b = rows(tmp_path, "b.jsonl", {"title": "Same", "abstract": X, "doi": "10.1234/b"})
    assert [p.id for p in load_corpus([b], known=known).papers] == [paper_id("Same", "10.1234/b")]
    c = rows(tmp_path, "c.jsonl", {"title": "Other name", "abstract": X, "doi": "10.1234/A"})
    again = load_corpus([c], known=known)
    assert [p.id for p in again.papers] == [paper_id("Same")]  # by DOI: the stored paper


def test_the_library_root_may_start_with_home(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.settings import Settings

    monkeypatch.setenv("RAG_SOURCES_LIBRARY_ROOT", "~/Zotero/storage")
    assert Settings().sources.library_root == Path.home() / "Zotero" / "storage"
