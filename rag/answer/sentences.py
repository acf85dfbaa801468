"""A paper's text rebuilt from its stored chunks, as sentences that remember their chunk.

Chunks repeat the last sentence(s) of the previous chunk (`RAG_CHUNK_OVERLAP_SENTENCES`), so
joining passages naively would state a sentence twice. `rebuild` drops the repeated words and
keeps, for each sentence, the position of the first chunk it came from: a long (full-text)
paper can then offer only the sentences of its retrieved chunks and their neighbours."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rag.index.chunking import split_sentences
from rag.index.store import StoredChunk

__all__ = ["PaperText", "rebuild", "rebuild_abstract", "candidate_indices", "overlap_words"]

_MIN_LOOSE_OVERLAP = 4  # words; a shorter repeat must start at a sentence boundary to count


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


def rebuild(chunks: Sequence[StoredChunk]) -> PaperText:
    """One paper's chunks (any order) → its sentences, overlap removed."""
    if not chunks:
        raise ValueError("rebuild needs at least one chunk")
    ordered = sorted(chunks, key=lambda c: c.position)
    sentences: list[str] = []
    positions: list[int] = []
    pages: list[int | None] = []
    previous: list[str] = []
    for c in ordered:
        words = c.passage.split()
        fresh = " ".join(words[overlap_words(previous, words) :])
        for s in split_sentences(fresh):
            sentences.append(s)
            positions.append(c.position)
            pages.append(c.page)
        previous = words
    first = ordered[0]
    return PaperText(
        first.paper_id,
        first.title,
        tuple(sentences),
        tuple(positions),
        tuple((c.id, c.position) for c in ordered),
        tuple(pages),
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
