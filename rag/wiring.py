"""Builds the parts from settings (the `from_args` of this package). Entry points call these;
everything below them takes built parts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.index.embed import Embedder, TokenCounter, make_embedder, packaged_model_dir
from rag.index.ingest import IngestSummary, ingest
from rag.index.retrieve import Retriever
from rag.index.store import Store, writer_lock
from rag.settings import Settings
from rag.sources.loader import ParseResult, load_corpus

if TYPE_CHECKING:
    from rag.answer.engine import AnswerEngine
    from rag.llm.server import LocalServer


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


def model_dir(settings: Settings) -> Path:
    return settings.data_dir / "model"


def start_llm(settings: Settings, progress: bool = True) -> tuple[str, LocalServer | None]:
    """The endpoint to talk to: RAG_LLM_BASE_URL as given, or the packaged model served locally
    (assembled on first use, then started or reused; the caller stops what it owns)."""
    if settings.llm.base_url:
        return settings.llm.base_url, None
    from rag.llm.model import ensure_gguf
    from rag.llm.server import LocalServer

    server = LocalServer.from_settings(settings, ensure_gguf(model_dir(settings), progress))
    return server.start(), server


def build_engine(
    settings: Settings,
    base_url: str,
    retriever: Retriever | None = None,
    server: LocalServer | None = None,
) -> AnswerEngine:
    from rag.answer.engine import AnswerEngine
    from rag.answer.prompts import load_prompts
    from rag.llm.client import make_llm

    retriever = retriever or open_retriever(settings)
    return AnswerEngine(
        retriever=retriever,
        llm=make_llm(settings.llm, base_url),
        llm_url=base_url,
        prompts=load_prompts(),
        cfg=settings.answer,
        embedder=retriever.embedder,
        count_tokens=TokenCounter(packaged_model_dir()),
        model_name=settings.llm.model,
        ensure_endpoint=server.ensure_running if server else None,
    )
