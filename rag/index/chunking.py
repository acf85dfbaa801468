"""Split a paper into chunks that fit the embedder's window (MiniLM reads 256 word pieces and
silently drops the rest). Each chunk starts with the title so it stands alone for both the
embedder and BM25. Chunk ids come from content, so re-ingesting the same text is a no-op.

A paper with full text (a PDF) is chunked page by page: sentence groups within one page, each
chunk with its `page`; a sentence that runs over a page break belongs to the page it starts on.
Its abstract gets chunks of its own (no page) only when it is not already in the page text (an
export's curated abstract beside its attached PDF); a PDF's own abstract is on page 1."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.sources.records import PageText, Paper, SourceFile

TokenCounter = Callable[[str], int]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'\u201d\u2019)\]]*$")
_HYPHEN_END = re.compile(r"[^\W\d_]-$")
CARRIED_MAX_CHARS = 500  # a page's opening words moved to the page before, at most
_ABSTRACT_PROBE_CHARS = 150  # this much of an abstract found in the pages: it is on the page
# Room kept for the title in a page chunk, whatever the title: the same PDF read under two
# titles (a .bib's and a .ris's) then gives the same passages, hence the same chunk ids.
PAGE_TITLE_TOKENS = 40


@dataclass(frozen=True)
class Chunk:
    id: str
    paper_id: str
    title: str
    text: str  # title + passage: what is embedded and indexed
    passage: str  # the abstract part only: what is shown and quoted
    position: int
    sources: tuple[str, ...]
    doi: str | None = None
    external_id: str | None = None  # the record's own `id`, kept as a label
    page: int | None = None  # the PDF page the passage is on; None for an abstract
    origins: tuple[SourceFile, ...] = ()  # the files this run read the passage from
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    url: str | None = None
    keywords: tuple[str, ...] = ()
    file_sha256: str | None = None  # of the PDF the paper's full text came from
    from_pdf: bool = False  # the paper's metadata was guessed from a bare PDF


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _split_long(sentence: str, budget: int, count: TokenCounter) -> list[str]:
    """A sentence longer than the budget is cut at word boundaries."""
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and count(" ".join([*current, word])) > budget:
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def _units(abstract: str, budget: int, count: TokenCounter) -> list[str]:
    units: list[str] = []
    for s in split_sentences(abstract):
        units.extend(_split_long(s, budget, count) if count(s) > budget else [s])
    return units


def _group(units: list[str], budget: int, overlap: int, count: TokenCounter) -> list[str]:
    groups: list[list[str]] = []
    current: list[str] = []
    for u in units:
        if current and count(" ".join([*current, u])) > budget:
            groups.append(current)
            kept = current[-overlap:] if overlap else []
            current = kept if count(" ".join([*kept, u])) <= budget else []
        current.append(u)
    if current:
        groups.append(current)
    return [" ".join(g) for g in groups]


def chunk_paper(paper: Paper, max_tokens: int, overlap: int, count: TokenCounter) -> list[Chunk]:
    title = count(paper.title)
    budget = max(16, max_tokens - title - 2)
    page_budget = max(16, max_tokens - max(title, PAGE_TITLE_TOKENS) - 2)

    def groups(text: str, budget: int) -> list[str]:
        return _group(_units(text, budget, count), budget, overlap, count)

    passages: list[tuple[str, int | None]] = []
    if paper.abstract and not abstract_in_pages(paper.abstract, paper.pages):
        passages += [(g, None) for g in groups(paper.abstract, budget)]
    for number, text in page_texts(paper.pages):
        passages += [(g, number) for g in groups(text, page_budget)]
    # A repeated passage (an abstract that repeats itself, a page printed twice) would give two
    # chunks one id, and Chroma refuses a batch with duplicate ids: each passage is kept once,
    # at its first place.
    first = dict(reversed(passages))
    unique = [(text, first[text]) for text in dict.fromkeys(t for t, _ in passages)]
    return [_chunk(paper, pos, passage, page) for pos, (passage, page) in enumerate(unique)]


def _chunk(paper: Paper, pos: int, passage: str, page: int | None) -> Chunk:
    return Chunk(
        id=chunk_id(paper.id, passage),
        paper_id=paper.id,
        title=paper.title,
        text=f"{paper.title}\n{passage}",
        passage=passage,
        position=pos,
        sources=paper.sources,
        doi=paper.doi,
        external_id=paper.external_id,
        page=page,
        origins=paper.origins(page is not None),
        authors=paper.authors,
        year=paper.year,
        venue=paper.venue,
        url=paper.url,
        keywords=paper.keywords,
        file_sha256=paper.file_sha256,
        from_pdf=paper.from_pdf,
    )


def page_texts(pages: tuple[PageText, ...]) -> list[tuple[int, str]]:
    """(page number, text) with each page's opening words up to its first sentence end moved to
    the page before when that page ends mid-sentence (a word hyphenated over the break joined)."""
    out: list[tuple[int, str]] = []
    for page in pages:
        text = page.text
        if out and not _ENDS_SENTENCE.search(out[-1][1]):
            parts = split_sentences(text)
            head = parts[0] if parts else ""
            if head and len(head) <= CARRIED_MAX_CHARS:
                out[-1] = (out[-1][0], _join_break(out[-1][1], head))
                text = text[text.index(head) + len(head) :].strip()
        if text:
            out.append((page.number, text))
    return out


def _join_break(before: str, after: str) -> str:
    if _HYPHEN_END.search(before) and after[:1].islower():
        return before[:-1] + after
    return f"{before} {after}"


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def abstract_in_pages(abstract: str, pages: tuple[PageText, ...]) -> bool:
    """Is the abstract printed in the first pages (then its chunks would repeat them)?"""
    if not pages:
        return False
    probe = _letters(abstract)[:_ABSTRACT_PROBE_CHARS]
    return bool(probe) and probe in _letters(" ".join(p.text for p in pages[:2]))


def chunk_id(paper_id: str, passage: str) -> str:
    return "c" + hashlib.sha256(f"{paper_id}\x00{passage}".encode()).hexdigest()[:23]
