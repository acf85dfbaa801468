"""Builds the parts from settings (the `from_args` of this package). Entry points call these;
everything below them takes built parts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rag.corpus import ParseResult, load_corpus
from rag.embed import Embedder, TokenCounter, make_embedder, packaged_model_dir
from rag.ingest import IngestSummary, ingest
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import Store, writer_lock


def embedder_for(settings: Settings) -> Embedder:
    return make_embedder(settings.embed, settings.llm.timeout_s)


def open_store(settings: Settings, embedder: Embedder, create: bool = False) -> Store:
    return Store.open(settings, embedder.name, create=create)


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    embedder = embedder or embedder_for(settings)
    retriever = Retriever(open_store(settings, embedder), embedder, settings.retrieval)
    retriever.load()
    return retriever


def run_ingest(
    settings: Settings, paths: Sequence[Path] = (), progress: bool = True
) -> tuple[ParseResult, IngestSummary]:
    parsed = load_corpus(list(paths) or [settings.corpus_dir])
    embedder = embedder_for(settings)
    with writer_lock(settings):
        store = open_store(settings, embedder, create=True)
        summary = ingest(
            parsed.papers,
            store,
            embedder,
            TokenCounter(packaged_model_dir()),
            settings.chunk,
            settings.chroma.batch_size,
            progress,
        )
    return parsed, summary
