"""Ingestion: papers → chunks → vectors in the store. Idempotent: chunk ids come from content,
so a second run embeds nothing; a changed abstract replaces its old chunks; a paper seen in a new
listing gets the new source on its chunks. Papers absent from this run are left alone."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from rag.index.chunking import Chunk, chunk_paper
from rag.index.embed import Embedder
from rag.index.store import Store
from rag.settings import ChunkSettings
from rag.sources.records import Paper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSummary:
    papers: int
    chunks: int
    added: int
    updated: int
    removed: int
    store_chunks: int

    def __str__(self) -> str:
        return (
            f"{self.papers} papers, {self.chunks} chunks: {self.added} added, "
            f"{self.updated} re-labelled, {self.removed} stale removed; "
            f"store now holds {self.store_chunks} chunks"
        )


def chunk_all(papers: list[Paper], cfg: ChunkSettings, count: Callable[[str], int]) -> list[Chunk]:
    return [c for p in papers for c in chunk_paper(p, cfg.max_tokens, cfg.overlap_sentences, count)]


def plan(chunks: list[Chunk], existing: dict[str, tuple[str, str]]) -> tuple[list, list, list]:
    """(chunks to embed, chunks whose sources changed, stale chunk ids of re-ingested papers)."""
    wanted = {c.id for c in chunks}
    papers = {c.paper_id for c in chunks}
    new = [c for c in chunks if c.id not in existing]
    relabel = [
        c for c in chunks if c.id in existing and existing[c.id][1] != json.dumps(list(c.sources))
    ]
    stale = [cid for cid, (pid, _) in existing.items() if pid in papers and cid not in wanted]
    return new, relabel, stale


def ingest(
    papers: list[Paper],
    store: Store,
    embedder: Embedder,
    count_tokens: Callable[[str], int],
    cfg: ChunkSettings,
    batch_size: int = 64,
    progress: bool = True,
) -> IngestSummary:
    from rag.progress import progress as progress_bar

    chunks = chunk_all(papers, cfg, count_tokens)
    new, relabel, stale = plan(chunks, store.chunk_index())
    log.info(
        "%d chunks, %d new, %d to relabel, %d stale",
        len(chunks),
        len(new),
        len(relabel),
        len(stale),
    )
    with progress_bar(len(new), "embedding", "chunk", progress) as bar:
        for start in range(0, len(new), batch_size):
            batch = new[start : start + batch_size]
            store.upsert(batch, embedder.embed([c.text for c in batch]))
            bar.update(len(batch))
    store.update_metadata(relabel)
    # Stale chunks go last: if the run dies before this, the paper still has its new chunks and
    # the next run removes the old ones.
    store.delete(stale)
    return IngestSummary(
        len(papers), len(chunks), len(new), len(relabel), len(stale), store.count()
    )
