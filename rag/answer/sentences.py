"""A paper's text rebuilt from its stored chunks, as sentences that remember their chunk.

Chunks repeat the last sentence(s) of the previous chunk (`RAG_CHUNK_OVERLAP_SENTENCES`), so
joining passages naively would state a sentence twice. `rebuild` drops the repeated words and
keeps, for each sentence, the position of the first chunk it came from: a long (full-text)
paper can then offer only the sentences of its retrieved chunks and their neighbours."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rag.index.chunking import split_sentences
from rag.index.store import StoredChunk

__all__ = ["PaperText", "rebuild", "rebuild_abstract", "candidate_indices", "overlap_words"]

_MIN_LOOSE_OVERLAP = 4  # words; a shorter repeat must start at a sentence boundary to count
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|et al|vs|cf|Fig|Eq|approx|resp|etc)\.$", re.IGNORECASE)


@dataclass(frozen=True)
class PaperText:
    paper_id: str
    title: str
    sentences: tuple[str, ...]
    positions: tuple[int, ...]  # chunk position of each sentence
    chunk_positions: tuple[tuple[str, int], ...]  # (chunk id, position), in position order
    pages: tuple[int | None, ...] = ()  # PDF page of each sentence (None: abstract)

    def page_of(self, index: int) -> int | None:
        """The page sentence `index` is on (a citation's "p. N"), None for an abstract."""
        return self.pages[index] if index < len(self.pages) else None

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_positions)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def overlap_words(previous: Sequence[str], current: Sequence[str]) -> int:
    """How many leading words of `current` repeat the trailing words of `previous`. The repeat
    must begin at a sentence start of `previous` (or be long), so a chance echo of one word
    ("the") at a boundary is not mistaken for the chunking overlap."""
    if not current:
        return 0
    starts = [len(previous) - i for i, w in enumerate(previous) if w == current[0]]
    for k in starts:  # longest repeat first
        if previous[-k:] != current[:k]:
            continue
        at_sentence_start = k == len(previous) or previous[-k - 1][-1:] in ".!?"
        if at_sentence_start or k >= _MIN_LOOSE_OVERLAP:
            return k
    return 0


Piece = tuple[str, int, int | None]  # a sentence piece, its chunk's position and page


def whole_sentences(pieces: Sequence[Piece]) -> list[Piece]:
    """The chunker's sentence pieces joined back where it split inside a sentence: after an
    abbreviation ("(e.g. 33B and 65B models)") or inside an open parenthesis. A joined
    sentence keeps its first piece's position and page (where it starts)."""
    out: list[Piece] = []
    for piece, pos, page in pieces:
        last = out[-1][0] if out else ""
        if out and (_ABBREVIATION.search(last) or last.count("(") > last.count(")")):
            out[-1] = (f"{last} {piece}", out[-1][1], out[-1][2])
        else:
            out.append((piece, pos, page))
    return out


def rebuild(chunks: Sequence[StoredChunk]) -> PaperText:
    """One paper's chunks (any order) → its sentences, overlap removed."""
    if not chunks:
        raise ValueError("rebuild needs at least one chunk")
    ordered = sorted(chunks, key=lambda c: c.position)
    pieces: list[tuple[str, int, int | None]] = []
    previous: list[str] = []
    for c in ordered:
        words = c.passage.split()
        fresh = " ".join(words[overlap_words(previous, words) :])
        pieces += [(s, c.position, c.page) for s in split_sentences(fresh)]
        previous = words
    whole = whole_sentences(pieces)
    first = ordered[0]
    return PaperText(
        first.paper_id,
        first.title,
        tuple(s for s, _, _ in whole),
        tuple(p for _, p, _ in whole),
        tuple((c.id, c.position) for c in ordered),
        tuple(page for _, _, page in whole),
    )


def rebuild_abstract(chunks: Sequence[StoredChunk]) -> str:
    """The abstract of an abstract-only paper, as it was before chunking."""
    return rebuild(chunks).text


def candidate_indices(
    paper: PaperText, retrieved: Collection[str], max_whole_chunks: int, neighbours: int
) -> list[int]:
    """Which of the paper's sentences may be evidence: all of them for a short paper (an
    abstract), otherwise those of the retrieved chunks and `neighbours` chunks either side, so
    a long paper cannot crowd the prompt."""
    if paper.n_chunks <= max_whole_chunks:
        return list(range(len(paper.sentences)))
    hit = [pos for cid, pos in paper.chunk_positions if cid in retrieved]
    if not hit:  # chunk ids unknown (e.g. re-ingested): start of the paper
        hit = [paper.chunk_positions[0][1]]
    near = {p + d for p in hit for d in range(-neighbours, neighbours + 1)}
    return [i for i, p in enumerate(paper.positions) if p in near]
