"""rag-papers: cited answers from your paper collection, offline on a laptop CPU.

The public API is what `__all__` lists; everything else is internal and may change. Names load
on first use (nothing heavy happens at `import rag`)::

    from rag import Settings, run_ingest, open_retriever, llm_session, build_engine

    settings = Settings()                      # RAG_* environment variables
    run_ingest(settings)                       # the bundled corpus (or give paths)
    hits = open_retriever(settings).search("4-bit finetuning on one GPU").hits
    with llm_session(settings) as llm:         # the packaged model, or RAG_LLM_BASE_URL
        answer = build_engine(settings, llm.client()).ask("What is QLoRA?")
        print(answer.text, [s.hit.title for s in answer.cited])

The same engine serves LlamaIndex code: `build_query_engine(...)` is a LlamaIndex query engine
(a `Response` with `source_nodes` and the citations in `metadata`), and `PaperRetriever` wraps
a Retriever as a LlamaIndex `BaseRetriever`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "Settings": "rag.settings",
    "run_ingest": "rag.wiring",
    "open_retriever": "rag.wiring",
    "build_engine": "rag.wiring",
    "build_query_engine": "rag.wiring",
    "llm_session": "rag.llm.session",
    "LLMSession": "rag.llm.session",
    "ChatClient": "rag.llm.client",
    "ChatTurn": "rag.llm.client",
    "OpenAIChatClient": "rag.llm.client",
    "Retriever": "rag.index.retrieve",
    "Retrieval": "rag.index.retrieve",
    "PaperHit": "rag.index.retrieve",
    "PaperRetriever": "rag.index.li_retriever",
    "AnswerEngine": "rag.answer.engine",
    "CitedQueryEngine": "rag.answer.query_engine",
    "Answer": "rag.answer.events",
    "Conversation": "rag.answer.conversation",
    "Support": "rag.answer.citations",
    "ABSTAIN_PHRASE": "rag.answer.prompts",
    "RagError": "rag.errors",
    "ConfigError": "rag.errors",
    "RunError": "rag.errors",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return __all__
