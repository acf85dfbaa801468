"""Ingestion: papers → chunks → vectors in the store. Idempotent: chunk ids come from content,
so a second run embeds nothing.

Each chunk remembers the files its text was read from (`origins`); a file read whole in this run
(`read`) is current: a chunk it no longer produces loses it, and a chunk with no file left is
removed. So re-ingesting a changed file replaces only that file's chunks (a changed abstract,
a changed PDF), a paper no longer in the file loses it as a source (and is removed when no
source is left), and the chunks other files gave the paper stay. A paper's sources are the
files of its chunks, in the order first stored. The paper's fields (title, authors, year, …)
are the same on each of its chunks: this run's where it has them, the stored ones filling gaps
(a curated export outranks what was guessed from a bare PDF).

Chunks are written in batches of whole papers. A batch the store refuses is retried paper by
paper, so one bad paper costs itself (reported as an Issue), never its neighbours; a store that
stops answering altogether still fails the run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rag.errors import StoreError
from rag.index import catalog
from rag.index.chunking import Chunk, chunk_paper
from rag.index.embed import Embedder
from rag.index.store import Store, StoredKey
from rag.settings import ChunkSettings
from rag.sources.identity import KnownPaper, normalise_title
from rag.sources.records import Issue, Paper, SourceFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperChange:
    """A paper this run added, changed or removed, as the CLI reports it."""

    paper_id: str
    title: str
    sources: tuple[str, ...]
    lost: tuple[str, ...] = ()  # files the paper is no longer in (it keeps the others)


@dataclass(frozen=True)
class IngestSummary:
    papers: int
    chunks: int
    added: int
    updated: int
    removed: int
    store_chunks: int
    failed: tuple[Issue, ...] = ()  # one per paper the store refused; the next run retries it
    new_papers: tuple[PaperChange, ...] = ()
    changed_papers: tuple[PaperChange, ...] = ()  # chunks added or removed (text changed)
    removed_papers: tuple[PaperChange, ...] = ()  # no file left: all their chunks removed
    lost_sources: tuple[PaperChange, ...] = ()  # kept, but no longer in some file

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


@dataclass
class Plan:
    """What a run (or a removal) does to the store."""

    new: list[Chunk] = field(default_factory=list)  # to embed and write
    metas: dict[str, catalog.Meta] = field(default_factory=dict)  # final metadata of new chunks
    relabel: dict[str, catalog.Meta] = field(default_factory=dict)  # id → metadata change
    stale: list[str] = field(default_factory=list)  # chunk ids with no file left
    papers: dict[str, list[str]] = field(default_factory=dict)  # paper id → its chunk ids after


def _is_read(f: SourceFile, paths: set[str], labels: set[str]) -> bool:
    """Is `f` one of the files read whole this run? A path-less (older) record by its name."""
    return f.path in paths if f.path else f.label in labels


def _ordered(stored: Sequence[SourceFile], kept: set[SourceFile], run: Iterable[SourceFile]):
    """Stored files still there, in their order, then this run's new ones."""
    first = [f for f in stored if f in kept]
    return tuple(dict.fromkeys([*first, *(f for f in run if f not in first)]))


def plan(
    chunks: list[Chunk],
    existing: Mapping[str, StoredKey],
    read: Iterable[SourceFile] = (),
    moved: Iterable[str] = (),
) -> Plan:
    """The store after this run. `read`: files read whole (their chunks are current); `moved`:
    stored chunk ids re-attributed to a paper of this run (`renamed`), replaced by its chunks
    and their files inherited."""
    read = list(read)
    paths = {f.path for f in read if f.path}
    labels = {f.label for f in read}
    moved = set(moved)
    produced = {c.id: c for c in chunks}
    inherited: dict[str, list[SourceFile]] = {}
    origins: dict[str, tuple[SourceFile, ...]] = {}
    out = Plan()
    for cid, k in existing.items():
        was = catalog.origins_of(k.meta) if k.meta else catalog.origins_of({"sources": k.sources})
        kept = {f for f in was if not _is_read(f, paths, labels)}
        if cid in moved:
            inherited.setdefault(k.paper_id, []).extend(f for f in was if f in kept)
            out.stale.append(cid)
            continue
        run = produced[cid].origins if cid in produced else ()
        origins[cid] = _ordered(was, kept | set(run), run)
        if not origins[cid]:
            out.stale.append(cid)
    for c in chunks:
        stored = origins.get(c.id, ())
        base = tuple(inherited.get(c.paper_id, ())) + stored
        origins[c.id] = tuple(dict.fromkeys([*base, *c.origins]))
    _finish(out, chunks, existing, origins)
    return out


def _finish(
    out: Plan,
    chunks: list[Chunk],
    existing: Mapping[str, StoredKey],
    origins: dict[str, tuple[SourceFile, ...]],
) -> None:
    """Paper-level fields and files on every chunk that stays; what to write or update."""
    produced = {c.id: c for c in chunks}
    gone = set(out.stale)
    for cid in origins:
        if cid not in gone:
            pid = produced[cid].paper_id if cid in produced else existing[cid].paper_id
            out.papers.setdefault(pid, []).append(cid)
    run_fields = {c.paper_id: catalog.paper_fields(c) for c in reversed(chunks)}
    run_order = {c.paper_id: c.sources for c in reversed(chunks)}
    for pid, ids in out.papers.items():
        stored = [existing[i].meta for i in ids if i in existing]
        fields = catalog.merged_fields(
            run_fields.get(pid, {}), catalog.stored_paper_fields(stored[0]) if stored else {}
        )
        files = _paper_files(ids, produced, existing, origins, run_order.get(pid, ()))
        paper = fields | catalog.files_fields(files)
        for cid in ids:
            meta = _chunk_meta(cid, pid, produced, existing, origins[cid]) | paper
            if cid not in existing:
                out.new.append(produced[cid])
                out.metas[cid] = meta
            elif meta != existing[cid].meta:
                out.relabel[cid] = catalog.metadata_change(existing[cid].meta, meta)


def _paper_files(
    ids: list[str],
    produced: Mapping[str, Chunk],
    existing: Mapping[str, StoredKey],
    origins: Mapping[str, tuple[SourceFile, ...]],
    run_sources: tuple[str, ...],
) -> list[SourceFile]:
    """A paper's files: those of its stored chunks first, in the order first stored, then the
    new ones in the order this run read them."""

    def position(cid: str) -> int:
        return int(existing[cid].meta.get("position", 0))

    stored = [
        f for i in sorted((i for i in ids if i in existing), key=position) for f in origins[i]
    ]
    stored = list(dict.fromkeys(stored))
    fresh = {f for i in ids for f in origins[i]} - set(stored)
    rank = {label: n for n, label in enumerate(run_sources)}
    return stored + sorted(fresh, key=lambda f: (rank.get(f.label, len(rank)), f.label))


def _chunk_meta(
    cid: str,
    pid: str,
    produced: Mapping[str, Chunk],
    existing: Mapping[str, StoredKey],
    origins: tuple[SourceFile, ...],
) -> catalog.Meta:
    if cid in produced:
        c = produced[cid]
        return catalog.chunk_fields(pid, c.position, c.page, origins)
    m = existing[cid].meta
    return catalog.chunk_fields(pid, int(m.get("position", 0)), m.get("page"), origins)


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


def known_papers(existing: Mapping[str, StoredKey]) -> list[KnownPaper]:
    """The stored papers as identity sees them (for loader.load_corpus)."""
    seen: dict[str, KnownPaper] = {}
    for k in existing.values():
        sha = k.meta.get("pdf_sha256")
        old = seen.get(k.paper_id) or KnownPaper(k.paper_id, k.title, k.doi)
        shas = old.file_sha256 + ((sha,) if sha and sha not in old.file_sha256 else ())
        seen[k.paper_id] = KnownPaper(old.paper_id, old.title, old.doi or k.doi, shas)
    return list(seen.values())


def ingest(
    papers: list[Paper],
    store: Store,
    embedder: Embedder,
    count_tokens: Callable[[str], int],
    cfg: ChunkSettings,
    batch_size: int = 64,
    progress: bool = True,
    read: Sequence[SourceFile] = (),
    stored: dict[str, StoredKey] | None = None,
) -> IngestSummary:
    """`read`: the files read whole in this run (ParseResult.read); see the module rule.
    `stored`: store.chunk_index() when the caller has just read it."""
    from rag.progress import progress as progress_bar

    store.check_index()  # writing into a damaged index would hide the damage, not repair it
    chunks = chunk_all(papers, cfg, count_tokens)
    stored = store.chunk_index() if stored is None else stored
    moved = renamed(chunks, stored)
    existing = {**stored, **moved}
    todo = plan(chunks, existing, read, moved)
    log.info(
        "%d chunks, %d new, %d to relabel, %d stale",
        len(chunks),
        len(todo.new),
        len(todo.relabel),
        len(todo.stale),
    )
    failed: list[tuple[str, Issue]] = []
    with progress_bar(len(todo.new), "embedding", "chunk", progress) as bar:
        for batch in batches(todo.new, batch_size):
            failed += store_batch(batch, store, embedder, todo.metas)
            bar.update(sum(len(p) for p in batch))
    store.set_metadata(todo.relabel)
    # Stale chunks go last: if the run dies before this, the paper still has its new chunks and
    # the next run removes the old ones. A paper whose new chunks were refused keeps its old ones.
    lost = {pid for pid, _ in failed}
    gone = [cid for cid in todo.stale if existing[cid].paper_id not in lost]
    store.delete(gone)
    added = len(todo.new) - sum(1 for c in todo.new if c.paper_id in lost)
    return IngestSummary(
        len(papers),
        len(chunks),
        added,
        len(todo.relabel),
        len(gone),
        store.count(),
        tuple(issue for _, issue in failed),
        **changes(todo, stored, lost, moved),
    )


def changes(
    todo: Plan,
    stored: Mapping[str, StoredKey],
    lost: Iterable[str] = (),
    moved: Iterable[str] = (),
) -> dict[str, tuple[PaperChange, ...]]:
    """Papers added, changed (chunks added or removed), removed, and papers that lost a file.
    `moved`: stored chunk ids of an older paper id, now the paper of this run (not removed)."""
    before: dict[str, list[tuple[str, StoredKey]]] = {}
    for cid, k in stored.items():
        before.setdefault(k.paper_id, []).append((cid, k))
    lost = set(lost) | {stored[cid].paper_id for cid in moved}
    fresh = {c.id for c in todo.new if c.paper_id not in lost}
    gone = set(todo.stale)
    out: dict[str, list[PaperChange]] = {
        "new_papers": [], "changed_papers": [], "removed_papers": [], "lost_sources": []
    }  # fmt: skip
    for pid, ids in todo.papers.items():
        meta = todo.metas.get(ids[0]) or {**stored[ids[0]].meta, **todo.relabel.get(ids[0], {})}
        title, sources = str(meta.get("title", "")), tuple(json.loads(meta["sources"]))
        if pid not in before:
            if fresh & set(ids):
                out["new_papers"].append(PaperChange(pid, title, sources))
            continue
        dropped = tuple(s for s in _labels(before[pid]) if s not in sources)
        if dropped:
            out["lost_sources"].append(PaperChange(pid, title, sources, dropped))
        if fresh & set(ids) or gone & {cid for cid, _ in before[pid]}:
            out["changed_papers"].append(PaperChange(pid, title, sources))
    for pid, keys in before.items():
        if pid not in todo.papers and pid not in lost:
            out["removed_papers"].append(PaperChange(pid, keys[0][1].title, (), _labels(keys)))
    return {k: tuple(v) for k, v in out.items()}


def _labels(keys: list[tuple[str, StoredKey]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for _, k in keys for s in json.loads(k.sources)))


@dataclass(frozen=True)
class RemoveSummary:
    chunks: int  # chunks deleted
    store_chunks: int
    removed_papers: tuple[PaperChange, ...] = ()
    lost_sources: tuple[PaperChange, ...] = ()  # papers kept: they are in other files too


def remove(
    store: Store, paper_ids: Iterable[str] = (), files: Iterable[SourceFile] = ()
) -> RemoveSummary:
    """Papers removed by id (all their chunks), and files removed: the chunks read only from
    them go, papers also in other files keep those (as if the files were read empty)."""
    store.check_index()
    stored = store.chunk_index()
    ids = set(paper_ids)
    todo = plan([], {c: k for c, k in stored.items() if k.paper_id not in ids}, files)
    todo.stale += [cid for cid, k in stored.items() if k.paper_id in ids]
    store.set_metadata(todo.relabel)
    store.delete(todo.stale)
    found = changes(todo, stored)
    return RemoveSummary(
        len(todo.stale), store.count(), found["removed_papers"], found["lost_sources"]
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
    batch: list[list[Chunk]],
    store: Store,
    embedder: Embedder,
    metas: Mapping[str, catalog.Meta] | None = None,
) -> list[tuple[str, Issue]]:
    """Embeds and writes a batch of papers; returns (paper id, Issue) for each paper refused."""
    chunks = [c for p in batch for c in p]
    vectors = dict(
        zip([c.id for c in chunks], embedder.embed([c.text for c in chunks]), strict=True)
    )
    try:
        store.upsert(chunks, [vectors[c.id] for c in chunks], metas)
        return []
    except StoreError as e:
        store.count()  # a store that no longer answers raises here: that fails the run
        if len(batch) == 1:
            return [(batch[0][0].paper_id, _refused(batch[0][0], e))]
    failed = []
    for paper in batch:  # the store answers: find which papers it refuses
        try:
            store.upsert(paper, [vectors[c.id] for c in paper], metas)
        except StoreError as e:
            failed.append((paper[0].paper_id, _refused(paper[0], e)))
    return failed


def _refused(c: Chunk, e: StoreError) -> Issue:
    msg = f"paper {c.title[:60]!r} was not stored ({e}); the next `rag ingest` retries it"
    return Issue(", ".join(c.sources), 0, msg)
