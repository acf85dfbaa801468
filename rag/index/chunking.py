"""Split a paper into chunks that fit the embedder's window (MiniLM reads 256 word pieces and
silently drops the rest). Each chunk starts with the title so it stands alone for both the
embedder and BM25. Chunk ids come from content, so re-ingesting the same text is a no-op."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.sources.records import Paper

TokenCounter = Callable[[str], int]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


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
    budget = max(16, max_tokens - count(paper.title) - 2)
    # A repeated passage (an abstract that repeats itself) would give two chunks one id, and
    # Chroma refuses a batch with duplicate ids: each passage is kept once, at its first place.
    passages = list(
        dict.fromkeys(_group(_units(paper.abstract, budget, count), budget, overlap, count))
    )
    return [
        Chunk(
            id=chunk_id(paper.id, passage),
            paper_id=paper.id,
            title=paper.title,
            text=f"{paper.title}\n{passage}",
            passage=passage,
            position=pos,
            sources=paper.sources,
            doi=paper.doi,
            external_id=paper.external_id,
        )
        for pos, passage in enumerate(passages)
    ]


def chunk_id(paper_id: str, passage: str) -> str:
    return "c" + hashlib.sha256(f"{paper_id}\x00{passage}".encode()).hexdigest()[:23]
