"""Ingestion: papers → chunks → vectors in the store. Idempotent: chunk ids come from content,
so a second run embeds nothing; a changed abstract replaces its old chunks; a paper seen in a new
listing gets the new source on its chunks. Papers absent from this run are left alone.

Chunks are written in batches of whole papers. A batch the store refuses is retried paper by
paper, so one bad paper costs itself (reported as an Issue), never its neighbours; a store that
stops answering altogether still fails the run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from rag.errors import StoreError
from rag.index.chunking import Chunk, chunk_paper
from rag.index.embed import Embedder
from rag.index.store import Store, StoredKey
from rag.settings import ChunkSettings
from rag.sources.identity import normalise_title
from rag.sources.records import Issue, Paper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSummary:
    papers: int
    chunks: int
    added: int
    updated: int
    removed: int
    store_chunks: int
    failed: tuple[Issue, ...] = ()  # one per paper the store refused; the next run retries it

    def __str__(self) -> str:
        failed = f"; {len(self.failed)} papers NOT stored" if self.failed else ""
        return (
            f"{self.papers} papers, {self.chunks} chunks: {self.added} added, "
            f"{self.updated} re-labelled, {self.removed} stale removed; "
            f"store now holds {self.store_chunks} chunks{failed}"
        )


def chunk_all(papers: list[Paper], cfg: ChunkSettings, count: Callable[[str], int]) -> list[Chunk]:
    """Every paper's chunks, each id once (the same paper given twice is chunked once)."""
    chunks = (
        c for p in papers for c in chunk_paper(p, cfg.max_tokens, cfg.overlap_sentences, count)
    )
    return list({c.id: c for c in chunks}.values())


def plan(chunks: list[Chunk], existing: dict[str, StoredKey]) -> tuple[list, list, list]:
    """(chunks to embed, chunks whose sources changed, stale chunk ids of re-ingested papers).

    A paper's sources are the union of those already stored and this run's: ingesting one file
    never takes away the files a paper was seen in before."""
    before = stored_sources(existing)
    chunks = [
        replace(c, sources=tuple(dict.fromkeys((*before.get(c.paper_id, ()), *c.sources))))
        for c in chunks
    ]
    wanted = {c.id for c in chunks}
    papers = {c.paper_id for c in chunks}
    new = [c for c in chunks if c.id not in existing]
    relabel = [
        c
        for c in chunks
        if c.id in existing and existing[c.id].sources != json.dumps(list(c.sources))
    ]
    stale = [cid for cid, k in existing.items() if k.paper_id in papers and cid not in wanted]
    return new, relabel, stale


def renamed(chunks: list[Chunk], existing: dict[str, StoredKey]) -> dict[str, StoredKey]:
    """Stored chunks of a paper of this run kept under another id (an older identity rule, or an
    `id` once taken for the paper id), re-attributed to the paper's id so they are replaced and
    their sources kept. Matched by normalised title, never across two different DOIs."""
    ids = {c.paper_id for c in chunks}
    by_title = {(normalise_title(c.title)): c for c in chunks}
    out: dict[str, StoredKey] = {}
    for cid, k in existing.items():
        c = by_title.get(normalise_title(k.title)) if k.paper_id not in ids else None
        if c is not None and not (c.doi and k.doi and c.doi != k.doi):
            out[cid] = k._replace(paper_id=c.paper_id)
    return out


def stored_sources(existing: dict[str, StoredKey]) -> dict[str, tuple[str, ...]]:
    """Paper id → the sources on its stored chunks, in the order first stored."""
    out: dict[str, dict[str, None]] = {}
    for k in existing.values():
        out.setdefault(k.paper_id, {}).update(dict.fromkeys(json.loads(k.sources)))
    return {pid: tuple(s) for pid, s in out.items()}


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

    store.check_index()  # writing into a damaged index would hide the damage, not repair it
    chunks = chunk_all(papers, cfg, count_tokens)
    stored = store.chunk_index()
    existing = {**stored, **renamed(chunks, stored)}
    new, relabel, stale = plan(chunks, existing)
    log.info(
        "%d chunks, %d new, %d to relabel, %d stale",
        len(chunks),
        len(new),
        len(relabel),
        len(stale),
    )
    failed: list[tuple[str, Issue]] = []
    with progress_bar(len(new), "embedding", "chunk", progress) as bar:
        for batch in batches(new, batch_size):
            failed += store_batch(batch, store, embedder)
            bar.update(sum(len(p) for p in batch))
    store.update_metadata(relabel)
    # Stale chunks go last: if the run dies before this, the paper still has its new chunks and
    # the next run removes the old ones. A paper whose new chunks were refused keeps its old ones.
    lost = {pid for pid, _ in failed}
    gone = [cid for cid in stale if existing[cid].paper_id not in lost]
    store.delete(gone)
    added = len(new) - sum(1 for c in new if c.paper_id in lost)
    return IngestSummary(
        len(papers),
        len(chunks),
        added,
        len(relabel),
        len(gone),
        store.count(),
        tuple(issue for _, issue in failed),
    )


def batches(chunks: list[Chunk], size: int) -> Iterator[list[list[Chunk]]]:
    """Consecutive whole papers (their chunks grouped) adding up to about `size` chunks."""
    by_paper: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_paper.setdefault(c.paper_id, []).append(c)
    batch: list[list[Chunk]] = []
    for paper_chunks in by_paper.values():
        batch.append(paper_chunks)
        if sum(len(p) for p in batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def store_batch(
    batch: list[list[Chunk]], store: Store, embedder: Embedder
) -> list[tuple[str, Issue]]:
    """Embeds and writes a batch of papers; returns (paper id, Issue) for each paper refused."""
    chunks = [c for p in batch for c in p]
    vectors = dict(
        zip([c.id for c in chunks], embedder.embed([c.text for c in chunks]), strict=True)
    )
    try:
        store.upsert(chunks, [vectors[c.id] for c in chunks])
        return []
    except StoreError as e:
        store.count()  # a store that no longer answers raises here: that fails the run
        if len(batch) == 1:
            return [(batch[0][0].paper_id, _refused(batch[0][0], e))]
    failed = []
    for paper in batch:  # the store answers: find which papers it refuses
        try:
            store.upsert(paper, [vectors[c.id] for c in paper])
        except StoreError as e:
            failed.append((paper[0].paper_id, _refused(paper[0], e)))
    return failed


def _refused(c: Chunk, e: StoreError) -> Issue:
    msg = f"paper {c.title[:60]!r} was not stored ({e}); the next `rag ingest` retries it"
    return Issue(", ".join(c.sources), 0, msg)
