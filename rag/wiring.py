"""Builds the core parts from settings (the `from_args` of this package). Entry points call
these; everything below them takes built parts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rag.errors import ConfigError
from rag.index.catalog import PaperRecord, match_sources, origins_of, paper_records
from rag.index.dense import DenseKind
from rag.index.embed import Embedder, TokenCounter, make_embedder, packaged_model_dir
from rag.index.ingest import IngestSummary, RemoveSummary, ingest, known_papers, remove
from rag.index.retrieve import Retriever
from rag.index.store import Store, describe_location, writer_lock
from rag.settings import Settings
from rag.sources.loader import load_corpus
from rag.sources.records import ParseResult, SourceFile

if TYPE_CHECKING:
    from rag.answer.engine import AnswerEngine, EvidenceParts
    from rag.answer.query_engine import CitedQueryEngine
    from rag.answer.vectors import SentenceVectors
    from rag.index.repair import RebuildSummary
    from rag.llm.client import ChatClient

log = logging.getLogger(__name__)
Warm = Literal["none", "now", "background"]


def embedder_for(settings: Settings) -> Embedder:
    return make_embedder(settings.embed, settings.llm.timeout_s)


def open_store(settings: Settings, embedder: Embedder, create: bool = False) -> Store:
    return Store.open(settings, embedder.name, create=create)


def open_retriever(
    settings: Settings, embedder: Embedder | None = None, dense: DenseKind = "llamaindex"
) -> Retriever:
    """The store's retriever, loaded. `dense="chroma"` (a process that starts no model): its
    dense search goes straight to the collection, not through LlamaIndex, or, while the store
    is as its snapshot recorded it, to the snapshot without opening Chroma (snapshot.py: exact
    search, where Chroma's is approximate)."""
    embedder = embedder or embedder_for(settings)
    if dense == "chroma":
        return _retriever_without_model(settings, embedder)
    retriever = Retriever(
        open_store(settings, embedder),
        embedder,
        settings.retrieval,
        settings.answer.max_question_chars,
        dense,
    )
    retriever.load()
    return retriever


def _retriever_without_model(settings: Settings, embedder: Embedder) -> Retriever:
    from rag.index.snapshot import SnapshotStore, read_snapshot, write_snapshot

    limit = settings.answer.max_question_chars
    snapshot = read_snapshot(settings, embedder.name)
    if snapshot is not None:
        source = SnapshotStore(snapshot, describe_location(settings))
        retriever = Retriever(source, embedder, settings.retrieval, limit, "snapshot")
        retriever.load()
        return retriever
    store = open_store(settings, embedder)
    retriever = Retriever(store, embedder, settings.retrieval, limit, "chroma")
    retriever.load()  # first: a damaged index is reported, not written into a snapshot
    write_snapshot(settings, store, embedder.name)
    return retriever


def run_ingest(
    settings: Settings, paths: Sequence[Path] = (), progress: bool = True
) -> tuple[ParseResult, IngestSummary]:
    """Files and folders (default: the bundled corpus) parsed and stored; the one writer.
    The store's papers are read first so each paper keeps its id across runs."""
    from rag.index.snapshot import write_snapshot

    embedder = embedder_for(settings)
    with writer_lock(settings):
        store = open_store(settings, embedder, create=True)
        store.check_index()  # first: a damaged index can fail the metadata reads too
        stored = store.chunk_index()
        parsed = load_corpus(
            list(paths) or [settings.corpus_dir], settings.sources, known_papers(stored)
        )
        summary = ingest(
            parsed.papers,
            store,
            embedder,
            TokenCounter(packaged_model_dir()),
            settings.chunk,
            settings.chroma.batch_size,
            progress,
            read=parsed.read,
            stored=stored,
        )
        warm_vectors(settings, store.all_chunks(), embedder, progress)
        write_snapshot(settings, store, embedder.name)  # the next `rag ask --no-llm` reads it
    return parsed, summary


def list_papers(settings: Settings) -> list[PaperRecord]:
    """The stored papers (`rag list`): id, title, authors, year, sources, chunks, …"""
    store = open_store(settings, embedder_for(settings))
    store.check_index()  # a damaged index is named with its repair, as by every reader
    return paper_records(store.metadatas())


def stored_files(files: Iterable[SourceFile], arg: str) -> list[SourceFile]:
    """The stored files `arg` names (catalog.match_sources). A bare name that two stored files
    share (two `refs.bib` in different folders) is refused: give the path."""
    found = match_sources(arg, files)
    paths = sorted({f.path for f in found if f.path})
    if len(paths) > 1 and not Path(arg).exists() and "/" not in arg:
        raise ConfigError(
            f"{arg!r} names {len(paths)} stored files ({', '.join(paths)}); give the path"
        )
    return found


def run_remove(
    settings: Settings, paper_ids: Sequence[str] = (), sources: Sequence[str] = ()
) -> tuple[RemoveSummary, list[str]]:
    """Papers removed by id and files removed (their papers lose them; a paper with no file
    left is removed). Idempotent; returns the summary and the ids or files not in the store."""
    from rag.index.snapshot import write_snapshot

    embedder = embedder_for(settings)
    with writer_lock(settings):
        store = open_store(settings, embedder)
        store.check_index()
        index = store.chunk_index()
        stored = {f for k in index.values() for f in origins_of(k.meta)}
        files = {arg: stored_files(stored, arg) for arg in sources}
        known = {k.paper_id for k in index.values()}
        summary = remove(
            store, [p for p in paper_ids if p in known], [f for fs in files.values() for f in fs]
        )
        write_snapshot(settings, store, embedder.name)
    missing = [p for p in paper_ids if p not in known] + [a for a, fs in files.items() if not fs]
    return summary, missing


def run_rebuild(settings: Settings, progress: bool = True) -> RebuildSummary:
    """`rag ingest --rebuild`: the stored chunks re-embedded into a fresh vector index."""
    from rag.index.repair import rebuild_index

    with writer_lock(settings):
        return rebuild_index(settings, embedder_for(settings), settings.chroma.batch_size, progress)


def vectors_file(settings: Settings) -> Path:
    from rag.answer.vectors import vectors_path

    return vectors_path(settings.data_dir, settings.collection_name())


def warm_vectors(
    settings: Settings, chunks: Sequence[object], embedder: Embedder, progress: bool = False
) -> int:
    """Every evidence sentence of the store embedded and saved next to it (at ingest, ~30 s for
    the bundled corpus on 2 idle cores), so answers score sentences without embedding them."""
    from rag.answer.evidence import EvidenceIndex
    from rag.answer.vectors import SentenceVectors

    index = EvidenceIndex.build(chunks)  # type: ignore[arg-type]
    vectors = SentenceVectors(embedder)
    path = vectors_file(settings)
    vectors.load(path)
    todo = [t for t in dict.fromkeys(index.all_sentences()) if t not in vectors]
    if todo:
        from rag.progress import progress as progress_bar

        with progress_bar(len(todo), "sentence vectors", "sentence", progress) as bar:
            for i in range(0, len(todo), 256):
                vectors.get(todo[i : i + 256])
                bar.update(len(todo[i : i + 256]))
        vectors.save(path)
    return len(todo)


def build_engine(
    settings: Settings,
    chat: ChatClient | None,
    retriever: Retriever | None = None,
    warm: Warm = "none",
) -> AnswerEngine:
    """The answer engine over `retriever` (opened from settings if not given), talking to
    `chat` (see rag/llm/session.py for the one way entry points get a chat client; None is
    enough for RAG_ANSWER_MODE=extractive). `warm`: sentence vectors missing from the saved
    file are embedded on demand (none), before returning (now), or by a background thread
    that saves them when done (background: for a long-lived process such as the UI)."""
    from rag.answer.abstention import Gate, load_params
    from rag.answer.context import EvidenceContexts, LegacyContexts, survey_rule
    from rag.answer.engine import AnswerEngine
    from rag.answer.prompts import load_prompts

    retriever = retriever or open_retriever(settings)
    cfg, prompts, count = settings.answer, load_prompts(), TokenCounter(packaged_model_dir())
    common = dict(chat=chat, prompts=prompts, cfg=cfg, embedder=retriever.embedder)
    if cfg.pipeline == "legacy":
        legacy = LegacyContexts(retriever, count, prompts, cfg)
        rule = Gate(cfg.abstain_min_score, cfg.abstain_min_overlap)
        return AnswerEngine(contexts=legacy, count_tokens=count, rule=rule, **common)  # type: ignore[arg-type]
    parts = evidence_parts(settings, retriever, warm)
    contexts = EvidenceContexts(retriever, parts.index, parts.vectors, count, survey_rule(cfg))
    rule_ = load_params(cfg.abstention_params)
    return AnswerEngine(contexts=contexts, count_tokens=count, rule=rule_, parts=parts, **common)  # type: ignore[arg-type]


def evidence_parts(settings: Settings, retriever: Retriever, warm: Warm = "none") -> EvidenceParts:
    """The evidence index over the store's chunks and the saved sentence vectors."""
    from rag.answer.engine import EvidenceParts
    from rag.answer.evidence import EvidenceIndex
    from rag.answer.vectors import SentenceVectors

    index = EvidenceIndex.build(retriever.chunks())
    vectors = SentenceVectors(retriever.embedder)
    vectors.load(vectors_file(settings))
    missing = [t for t in index.all_sentences() if t not in vectors]
    if missing and warm == "now":
        _warm_and_save(vectors, missing, vectors_file(settings))
    elif missing and warm == "background":
        args = (vectors, missing, vectors_file(settings))
        threading.Thread(target=_warm_and_save, args=args, name="warm-vectors", daemon=True).start()
    return EvidenceParts(index, vectors)


def _warm_and_save(vectors: SentenceVectors, texts: list[str], path: Path) -> None:
    from rag.errors import RagError

    log.info("embedding %d evidence sentences (saved to %s)", len(texts), path)
    try:
        vectors.warm(texts)
        vectors.save(path)
    except (OSError, RagError) as e:  # a cache: answers still work, embedding on demand
        log.warning("sentence vectors not saved to %s: %s", path, e)


def build_query_engine(
    settings: Settings,
    chat: ChatClient,
    retriever: Retriever | None = None,
    streaming: bool = False,
) -> CitedQueryEngine:
    """The same answer engine as a LlamaIndex query engine (`query()` → Response with
    `source_nodes` and the checked answer in `metadata`)."""
    from rag.answer.query_engine import CitedQueryEngine

    return CitedQueryEngine(
        engine=build_engine(settings, chat, retriever),
        model=settings.llm.model,
        fingerprint=settings.fingerprint(),
        streaming=streaming,
    )
