"""Our hybrid retriever seen as a LlamaIndex `BaseRetriever`, so LlamaIndex code (retriever
evaluators, query pipelines, agents) can use it. One node per paper: its best-matching chunk,
with the paper's id as the node id and the fused score as the node's score.

Fusion stays our own `rrf` (rag/index/retrieve.py): LlamaIndex's QueryFusionRetriever resolves
the global `Settings.llm` (OpenAI, which fails offline) unless given an LLM, needs BM25 as a
second BaseRetriever package, and fuses nodes by text; ours also keeps each paper's dense cosine,
which the abstention decision reads."""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.index.retrieve import PaperHit, Retrieval, Retriever


def hit_node(h: PaperHit, **extra: Any) -> NodeWithScore:
    """A retrieved paper as a LlamaIndex node (metadata: what `rag search --json` shows)."""
    meta: dict[str, Any] = {
        "paper_id": h.paper_id,
        "title": h.title,
        "rank": h.rank,
        "chunk_id": h.chunk_id,
        "sources": list(h.sources),
        "dense_similarity": h.dense_similarity,
        **extra,
    }
    node = TextNode(id_=h.paper_id, text=h.chunk, metadata=meta)
    return NodeWithScore(node=node, score=h.score)


def retrieval_nodes(r: Retrieval) -> list[NodeWithScore]:
    return [hit_node(h) for h in r.hits]


class PaperRetriever(BaseRetriever):
    """`Retriever.search` behind LlamaIndex's retriever interface (the question is checked)."""

    def __init__(self, retriever: Retriever, top_k: int | None = None, mode: str | None = None):
        super().__init__()
        self._retriever = retriever
        self._top_k = top_k
        self._mode = mode

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return retrieval_nodes(
            self._retriever.search(query_bundle.query_str, self._top_k, self._mode)
        )
