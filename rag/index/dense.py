"""Dense search over the store's Chroma collection: the question's vector against the chunks',
the best `n` by cosine, optionally under a Chroma `where` clause. Two ways to run it, with the
same results (tests/integration/test_dense_paths.py):

- `llamaindex` (default): a LlamaIndex VectorStoreIndex over ChromaVectorStore, queried through
  its retriever, the way answers written by the model retrieve;
- `chroma`: the same query sent to the collection directly, for processes that never start a
  model (`rag ask --no-llm`, `rag search`): importing llama_index.core is ~0.8 s of a cold
  start there, which is most of the time such a process takes.

Both embed the question with the store's own embedder and return (chunk id, cosine)."""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol

from rag.index.embed import Embedder
from rag.index.store import Store

DenseKind = Literal["llamaindex", "chroma"]
Hits = list[tuple[str, float]]


class DenseSearch(Protocol):
    def search(self, question: str, n: int, where: dict[str, Any] | None) -> Hits: ...


class LlamaIndexDense:
    """Through LlamaIndex: VectorIndexRetriever → ChromaVectorStore → the collection."""

    def __init__(self, store: Store, embedder: Embedder, n: int) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.index.li_embedding import EmbedderAdapter

        vs = ChromaVectorStore(chroma_collection=store.collection)
        # No transformations: the index is only searched here (chunks are written by ingest),
        # and the default one builds LlamaIndex's tiktoken splitter (~0.25 s of a cold start).
        self._index = VectorStoreIndex.from_vector_store(
            vs, embed_model=EmbedderAdapter(embedder), transformations=[]
        )
        self._n = n
        self._plain = self._index.as_retriever(similarity_top_k=n)  # built once: no filter

    def search(self, question: str, n: int, where: dict[str, Any] | None) -> Hits:
        if where is None and n == self._n:
            retriever = self._plain
        else:
            kwargs = {"where": where} if where else {}
            retriever = self._index.as_retriever(similarity_top_k=n, vector_store_kwargs=kwargs)
        nodes = retriever.retrieve(question)
        # ChromaVectorStore reports exp(-cosine distance); turn it back into cosine similarity.
        return [(x.node.node_id, 1.0 + math.log(max(x.score or 1e-9, 1e-9))) for x in nodes]


class ChromaDense:
    """Straight to the collection: one `query` by the question's vector, distances only."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self._collection = store.collection
        self._embedder = embedder

    def search(self, question: str, n: int, where: dict[str, Any] | None) -> Hits:
        vector = self._embedder.embed([question])[0]
        kwargs: dict[str, Any] = {"where": where} if where else {}
        found = self._collection.query(
            query_embeddings=[vector], n_results=n, include=["distances"], **kwargs
        )
        ids, distances = found["ids"][0], found["distances"][0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]


def open_dense(kind: DenseKind, store: Store, embedder: Embedder, n: int) -> DenseSearch:
    if kind == "chroma":
        return ChromaDense(store, embedder)
    return LlamaIndexDense(store, embedder, n)
